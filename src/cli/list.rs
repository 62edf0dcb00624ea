//! `tfauth list stacks [-c COMPONENT]` and `tfauth list components -s STACK`: what exists,
//! for humans and for shell completion.

use super::Ctx;
use crate::config::{self, ConfigOptions};
use crate::error::Error;
use crate::stacks::{StackSet, component::component_names};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(subcommand)]
    pub what: ListWhat,
}

#[derive(Subcommand, Debug)]
pub enum ListWhat {
    /// Stack names, one per line.
    Stacks {
        /// Only stacks that define this component.
        #[arg(short = 'c', long)]
        component: Option<String>,
    },
    /// Components of a stack, one per line.
    Components {
        #[arg(short = 's', long)]
        stack: String,
    },
}

pub fn run(args: ListArgs, ctx: &Ctx) -> Result<i32, Error> {
    let cfg = config::load(&ConfigOptions { cwd: ctx.cwd.clone(), profiles: ctx.profiles.clone() }, &ctx.env)?;
    let set = StackSet::load(&cfg)?;
    match args.what {
        ListWhat::Stacks { component } => {
            let mut names: Vec<String> = Vec::new();
            for n in set.names() {
                let Ok(name) = n.name else {
                    tracing::debug!("{} has no stack name", n.file.display());
                    continue;
                };
                if let Some(c) = &component {
                    let Ok(stack) = set.find(&name) else { continue };
                    if !component_names(&stack).iter().any(|x| x == c) {
                        continue;
                    }
                }
                names.push(name);
            }
            names.sort();
            names.dedup();
            for n in names {
                println!("{n}");
            }
        }
        ListWhat::Components { stack } => {
            let stack = set.find(&stack)?;
            let mut names = component_names(&stack);
            names.sort();
            for n in names {
                println!("{n}");
            }
        }
    }
    Ok(0)
}

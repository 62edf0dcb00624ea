//! `tfauth list stacks [-c COMPONENT]` and `tfauth list components -s STACK`: what exists,
//! for humans and for shell completion. A manifest that cannot be read, named or merged
//! fails the listing (exit 65, every such file with its line), as Atmos's `list` does:
//! a list that silently left stacks out would mislead. Completion uses the same
//! [`StackSet`] but stays quiet (see `complete.rs`).

use super::Ctx;
use crate::config::{self, ConfigOptions};
use crate::error::Error;
use crate::stacks::{StackSet, component::component_names, component::runnable_names};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(subcommand)]
    pub what: ListWhat,
}

#[derive(Subcommand, Debug)]
pub enum ListWhat {
    /// Stack names, one per line.
    #[command(after_long_help = "\
Examples:
  # Every stack
  tfauth list stacks

  # The stacks that define vpc
  tfauth list stacks -c vpc")]
    Stacks {
        /// Only stacks that define this component.
        #[arg(short = 'c', long)]
        component: Option<String>,
    },
    /// Components of a stack, one per line; abstract ones marked `(abstract)`.
    #[command(after_long_help = "\
Examples:
  # The components of one stack
  tfauth list components -s plat-use2-dev")]
    Components {
        #[arg(short = 's', long)]
        stack: String,
    },
}

/// Every stack's name, sorted (manifests without one are skipped, with a debug line).
pub fn stack_names(set: &StackSet) -> Vec<String> {
    let mut names: Vec<String> = set
        .names()
        .into_iter()
        .filter_map(|n| n.name.map_err(|_| tracing::debug!("{} has no stack name", n.file.display())).ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub fn run(args: ListArgs, ctx: &Ctx) -> Result<i32, Error> {
    let cfg = config::load(&ConfigOptions { cwd: ctx.cwd.clone(), profiles: ctx.settings.profiles.clone() }, &ctx.env)?;
    let set = StackSet::load(&cfg)?;
    let listing = set.listing()?;
    match args.what {
        ListWhat::Stacks { component } => {
            let mut names: Vec<String> = listing
                .into_iter()
                .filter(|(_, c)| component.as_ref().is_none_or(|want| c.contains(want)))
                .map(|(n, _)| n)
                .collect();
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
            // Abstract ones (`metadata.type: abstract`) are bases to inherit from, not runs:
            // marked after the name, so the first word of each line is still the name.
            let runnable = runnable_names(&stack.manifest);
            for n in names {
                if runnable.contains(&n) {
                    println!("{n}");
                } else {
                    println!("{n}  (abstract)");
                }
            }
        }
    }
    Ok(0)
}

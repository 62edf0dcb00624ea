//! `tfauth auth user configure`: stores an `aws/user` identity's access key in the keyring.
//!
//! Why it exists: a long-lived key must live in the keyring, not in a file tfauth writes. It
//! must never fall back to a plain file, and never print the secret (the key id is shown
//! shortened).

use super::login::resolve_for;
use super::{Ctx, Target};
use crate::error::Error;
use crate::identity::Selection;
use crate::session;
use clap::Args;

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Store an aws/user identity's access key in the keyring (asked on the terminal, or
    /// read as two lines from stdin when it is not a terminal).
    #[command(after_long_help = "\
Examples:
  # Store the access key of an aws/user identity, asked on the terminal. The examples/
  # repository defines none; with an identity `ci/user` of kind aws/user in atmos.yaml:
  tfauth auth user configure -i ci/user

  # The same, read from stdin: the access key id, then the secret access key
  printf '%s\\n%s\\n' \"$KEY_ID\" \"$SECRET\" | tfauth auth user configure -i ci/user")]
    Configure {
        #[command(flatten)]
        target: Target,
    },
}

pub fn user(args: UserArgs, ctx: &Ctx) -> Result<i32, Error> {
    let UserCommand::Configure { target } = args.command;
    let res = resolve_for(&target, ctx, false)?;
    let Selection::Identity { name, .. } = &res.selection else {
        return Err(Error::usage(
            "no identity chosen",
            Some("pass --identity NAME of an aws/user identity".to_string()),
        ));
    };
    let Some(id) = res.auth.identity(name) else { unreachable!("a selected identity is defined") };
    if id.kind_name != "aws/user" {
        return Err(Error::usage(
            format!("identity `{name}` is {}, not aws/user: it has no access key to store", id.kind_name),
            Some("pass --identity with an aws/user identity".to_string()),
        ));
    }
    let Some(spec) = crate::keyring::spec(&res.auth_node, &ctx.env)? else {
        return Err(Error::usage(
            "no keyring is configured to store the access key in",
            Some(
                "set `auth.keyring.type` (system, or file with ATMOS_KEYRING_PASSWORD), or ATMOS_KEYRING_TYPE"
                    .to_string(),
            ),
        ));
    };
    // Storing keys is never silently downgraded to a plain file.
    let ring = crate::keyring::open(&spec, &ctx.env)?;
    ring.ready_to_write()?;
    let (key_id, secret) = crate::cli::tty::read_access_key(&ctx.env).map_err(|m| {
        Error::usage(
            m,
            Some("run it in a terminal, or pipe two lines: the access key id, then the secret access key".to_string()),
        )
    })?;
    let realm = res.realm(&ctx.env);
    let stored_in = crate::session::vault::store_user_keys(ring.as_ref(), &realm, name, &key_id, &secret)?;
    // A session made from the old key is no longer wanted.
    if let (Some(cache), Some(chain)) = (crate::session::cache::Cache::new(&ctx.env, "aws"), res.chain.as_ref()) {
        cache.remove(&session::key(&res.scope(&ctx.env), chain));
    }
    let shown = format!("{}...{}", &key_id[..4.min(key_id.len())], &key_id[key_id.len().saturating_sub(4)..]);
    eprintln!("Stored access key {shown} for `{name}` in the {stored_in}.");
    Ok(0)
}

#[cfg(test)]
#[path = "user_tests.rs"]
mod tests;

//! `tfauth auth user configure`: stores an `aws/user` identity's access key, or the password
//! of the `aws/saml` provider an identity signs in through, in the keyring.
//!
//! Why it exists: a long-lived key or password must live in the keyring, not in a file
//! tfauth writes or in `atmos.yaml`. It must never fall back to a plain file, and never
//! print the secret (the key id is shown shortened).

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
    /// Store an aws/user identity's access key in the keyring, or the password of the
    /// aws/saml provider an identity signs in through (asked on the terminal, or read from
    /// stdin when it is not a terminal).
    #[command(after_long_help = "\
Examples:
  # Store the access key of an aws/user identity, asked on the terminal. The examples/
  # repository defines none; with an identity `ci/user` of kind aws/user in atmos.yaml:
  tfauth auth user configure -i ci/user

  # The same, read from stdin: the access key id, then the secret access key
  printf '%s\\n%s\\n' \"$KEY_ID\" \"$SECRET\" | tfauth auth user configure -i ci/user

  # The SAML password of the provider identity `okta/admin` signs in through (the
  # provider's `username` when it has one, else asked; its `password` must be unset)
  tfauth auth user configure -i okta/admin")]
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
    if let Some(crate::identity::ChainRoot::Provider(p)) = res.chain.as_ref().map(|c| &c.root)
        && let Some(crate::auth::ProviderKind::Saml { username, password, .. }) = &p.kind
    {
        return saml_password(&res, name, &p.name, username.as_deref(), password.is_some(), ctx);
    }
    if id.kind_name != "aws/user" {
        return Err(Error::usage(
            format!(
                "identity `{name}` is {}, not aws/user, and does not sign in through an aws/saml provider: it has no access key or password to store",
                id.kind_name
            ),
            Some(
                "pass --identity with an aws/user identity, or one that signs in through an aws/saml provider"
                    .to_string(),
            ),
        ));
    }
    let ring = writable_keyring(&res.auth_node, ctx, "the access key")?;
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

/// The configured keyring, opened and ready to be written (a file keyring's password is
/// had before anything is asked); `what` is stored in it. Storing is never silently
/// downgraded to a plain file: without a keyring configured, nothing is stored.
fn writable_keyring(
    auth: &crate::yaml::Node,
    ctx: &Ctx,
    what: &str,
) -> Result<Box<dyn crate::keyring::Keyring>, Error> {
    let Some(spec) = crate::keyring::spec(auth, &ctx.env)? else {
        return Err(Error::usage(
            format!("no keyring is configured to store {what} in"),
            Some(
                "set `auth.keyring.type` (system, or file with ATMOS_KEYRING_PASSWORD), or ATMOS_KEYRING_TYPE"
                    .to_string(),
            ),
        ));
    };
    let ring = crate::keyring::open(&spec, &ctx.env)?;
    ring.ready_to_write()?;
    Ok(ring)
}

/// Stores the password of `provider`'s user for the identity `identity` signs in as.
fn saml_password(
    res: &crate::resolve::Resolution,
    identity: &str,
    provider: &str,
    username: Option<&str>,
    configured: bool,
    ctx: &Ctx,
) -> Result<i32, Error> {
    if configured {
        return Err(Error::usage(
            format!(
                "provider `{provider}` (aws/saml) has a `password` in the configuration, which is used before any stored one: nothing to store"
            ),
            Some(format!(
                "remove `password` from provider `{provider}` (or leave its !env variable unset) to use a password stored in the keyring"
            )),
        ));
    }
    let ring = writable_keyring(&res.auth_node, ctx, "the password")?;
    let (user, password) = crate::cli::tty::read_saml_password(&ctx.env, provider, username).map_err(|m| {
        Error::usage(
            m,
            Some(
                "run it in a terminal, or pipe the password (after a line with the user name when the provider has no `username`)"
                    .to_string(),
            ),
        )
    })?;
    let realm = res.realm(&ctx.env);
    let stored_in = crate::session::vault::store_saml_password(ring.as_ref(), &realm, provider, &user, &password)?;
    // A session, or a refusal remembered for the old password, is no longer wanted.
    if let (Some(cache), Some(chain)) = (crate::session::cache::Cache::new(&ctx.env, "aws"), res.chain.as_ref()) {
        cache.remove(&session::key(&res.scope(&ctx.env), chain));
    }
    eprintln!(
        "Stored the password of `{user}` at provider `{provider}` in the {stored_in}; `{identity}` and every identity signing in through `{provider}` use it."
    );
    Ok(0)
}

#[cfg(test)]
#[path = "user_tests.rs"]
mod tests;

//! Which identity a run uses: `--identity NAME` > `ATMOS_IDENTITY` > the one identity
//! marked `default: true` after the merge. `false`, `0`, `no`, `off` disable auth. With
//! several defaults or none, a terminal user may pick one; otherwise it is an error that
//! lists the candidates.

use crate::auth::{AuthConfig, AuthError};
use crate::env_vars::{self, Env, is_identity_disabled};
use crate::yaml::Span;

/// What the command line said about the identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IdentityFlag {
    /// No `--identity`.
    #[default]
    Absent,
    /// `--identity` with no value: ask.
    Ask,
    /// `--identity NAME` (or `--identity=false`).
    Named(String),
}

/// A way to ask the user to pick from a list (a terminal), or none.
pub trait Prompt {
    /// Returns the index of the chosen item, or `None` if the user gave up.
    fn choose(&self, question: &str, items: &[String]) -> Option<usize>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectionSource {
    Flag,
    Env,
    Default(Span),
    Picked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Auth disabled by `false`/`0`/`no`/`off`; the command runs with the environment as is.
    Disabled { by: SelectionSource },
    /// No identities are configured at all: nothing to authenticate.
    NoneConfigured,
    /// An identity, by the name as written in the configuration.
    Identity { name: String, by: SelectionSource },
    /// `describe` only: no `--identity` was given and the default (or `ATMOS_IDENTITY`)
    /// does not resolve. Atmos's describe builds no auth unless `--identity` is given, so
    /// this is shown, with why, instead of failing; a run refuses the same configuration.
    Unresolved { reason: String, hint: Option<String> },
}

/// Chooses the identity. `context` (e.g. "component vpc in stack plat-use2-dev") goes
/// into messages.
pub fn select(
    auth: &AuthConfig,
    flag: &IdentityFlag,
    env: &Env,
    prompt: Option<&dyn Prompt>,
    context: Option<&str>,
) -> Result<Selection, AuthError> {
    let named = |value: &str, by: SelectionSource, source_name: &'static str| -> Result<Selection, AuthError> {
        if is_identity_disabled(value) {
            return Ok(Selection::Disabled { by });
        }
        match auth.identity(value.trim()) {
            Some(id) => Ok(Selection::Identity { name: id.name.clone(), by }),
            None => Err(AuthError::UnknownIdentity {
                name: value.trim().to_string(),
                source_name,
                suggestions: crate::util::suggest::nearest(
                    value.trim(),
                    auth.identities.iter().map(|i| i.name.as_str()),
                ),
                available: auth.identity_names(),
                scoped: context.is_some(),
                fallback: None,
            }),
        }
    };
    match flag {
        IdentityFlag::Named(v) => return named(v, SelectionSource::Flag, "--identity"),
        IdentityFlag::Ask => return pick(auth, prompt, "Which identity?", None),
        IdentityFlag::Absent => {}
    }
    if let Some(v) = env.get(env_vars::ATMOS_IDENTITY) {
        return named(v, SelectionSource::Env, env_vars::ATMOS_IDENTITY);
    }
    if auth.identities.is_empty() {
        return Ok(Selection::NoneConfigured);
    }
    let defaults: Vec<_> = auth.identities.iter().filter(|i| i.default).collect();
    match defaults.as_slice() {
        [one] => Ok(Selection::Identity {
            name: one.name.clone(),
            by: SelectionSource::Default(one.default_span.clone().unwrap_or_else(Span::synthetic)),
        }),
        [] => pick(auth, prompt, "No identity is marked default. Which identity?", None).map_err(|e| match e {
            AuthError::NeedTerminal { candidates } => {
                AuthError::NoDefault { candidates, context: context.map(str::to_string), example: None }
            }
            other => other,
        }),
        several => {
            let names: Vec<String> = several.iter().map(|i| i.name.clone()).collect();
            pick(auth, prompt, "Several identities are marked default. Which one?", Some(&names)).map_err(|e| match e {
                AuthError::NeedTerminal { .. } => AuthError::SeveralDefaults {
                    candidates: several
                        .iter()
                        .map(|i| (i.name.clone(), i.default_span.clone().unwrap_or_else(Span::synthetic)))
                        .collect(),
                    context: context.map(str::to_string),
                },
                other => other,
            })
        }
    }
}

fn pick(
    auth: &AuthConfig,
    prompt: Option<&dyn Prompt>,
    question: &str,
    only: Option<&[String]>,
) -> Result<Selection, AuthError> {
    let items: Vec<String> = only.map(<[String]>::to_vec).unwrap_or_else(|| auth.identity_names());
    let Some(prompt) = prompt.filter(|_| !items.is_empty()) else {
        return Err(AuthError::NeedTerminal { candidates: items });
    };
    match prompt.choose(question, &items) {
        Some(i) if i < items.len() => Ok(Selection::Identity { name: items[i].clone(), by: SelectionSource::Picked }),
        _ => Err(AuthError::NeedTerminal { candidates: items }),
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;

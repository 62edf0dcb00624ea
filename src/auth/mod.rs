//! The `auth:` schema (CONTRACT A2): typed providers, identities and integrations, and
//! the checks `tfauth auth validate` makes of them; whether their `via` links form chains
//! is `identity::chain`'s to check (`identity::parse_auth` has both). Parsing never stops
//! at the first problem: it collects all of them, each with the file and line where the
//! YAML has one. Pure; no I/O.

pub mod schema;

pub use schema::{
    AuthConfig, Cloud, Identity, IdentityKind, Integration, IntegrationKind, Notes, Problem, Provider, ProviderKind,
    Subject, Via,
};

use crate::stacks::quote_list;
use crate::yaml::Span;

/// Problems with auth configuration or with choosing an identity.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the auth configuration has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
    /// The run's chain needs what Atmos can do and tfauth cannot yet (each problem says
    /// what, where, and "not supported by tfauth yet").
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Unsupported { problems: Vec<Problem> },
    #[error("identity `{name}` (from {source_name}) is not defined")]
    UnknownIdentity {
        name: String,
        source_name: &'static str,
        suggestions: Vec<String>,
        available: Vec<String>,
        /// Whether a component and stack were given (their `auth:` was merged in).
        scoped: bool,
    },
    #[error("no default identity{}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default())]
    NoDefault { candidates: Vec<String>, context: Option<String> },
    #[error("several default identities{}: {}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default(), candidates.iter().map(|(n, s)| format!("`{n}` ({s})")).collect::<Vec<_>>().join(", "))]
    SeveralDefaults { candidates: Vec<(String, Span)>, context: Option<String> },
    #[error("identity `{name}` is marked `default: true` at {span}, but no provider or identity defines it")]
    DefaultUndefined { name: String, span: Span, profiles: Vec<String> },
    #[error("`--identity` without a value asks which identity to use, but there is no terminal to ask on")]
    NeedTerminal { candidates: Vec<String> },
}

impl AuthError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            AuthError::Invalid { problems } => {
                let hints: Vec<String> = problems.iter().filter_map(|p| p.hint.clone()).take(3).collect();
                if hints.is_empty() {
                    "fix each problem at the file and line shown".into()
                } else {
                    hints.join("\nhint: ")
                }
            }
            AuthError::Unsupported { problems } => {
                let mut hints: Vec<String> = problems.iter().filter_map(|p| p.hint.clone()).take(3).collect();
                hints.push("choose another identity with --identity, or run this one with Atmos".into());
                hints.join("\nhint: ")
            }
            AuthError::UnknownIdentity { suggestions, .. } if !suggestions.is_empty() => {
                format!("did you mean {}?", quote_list(suggestions))
            }
            AuthError::UnknownIdentity { available, .. } if available.is_empty() => {
                "no identities are defined; check ATMOS_PROFILE / --profile".into()
            }
            AuthError::UnknownIdentity { available, scoped, .. } => {
                let mut h = format!("defined identities: {}; `tfauth auth list` shows them all", abbreviate(available));
                if !scoped {
                    h.push_str(
                        "\nhint: an identity defined in a stack's or component's `auth:` exists only with that component and stack on the command line (`-s STACK`)",
                    );
                }
                h
            }
            AuthError::NoDefault { candidates, .. } if candidates.is_empty() => {
                "no identities are defined; set ATMOS_PROFILE or --profile, or --identity=false to run without auth"
                    .into()
            }
            AuthError::NoDefault { candidates, .. } => format!(
                "pass --identity NAME (or set ATMOS_IDENTITY), or mark one identity `default: true`; identities: {}",
                abbreviate(candidates)
            ),
            AuthError::SeveralDefaults { candidates, .. } => format!(
                "pass --identity with one of {}, or leave one `default: true`",
                quote_list(&candidates.iter().map(|c| c.0.clone()).collect::<Vec<_>>())
            ),
            AuthError::DefaultUndefined { profiles, .. } if profiles.is_empty() => {
                "no profile is active: set ATMOS_PROFILE (or --profile) to the profile that defines this identity"
                    .into()
            }
            AuthError::DefaultUndefined { profiles, .. } => format!(
                "the active profile ({}) does not define it; choose a profile that does (ATMOS_PROFILE or --profile)",
                profiles.join(", ")
            ),
            AuthError::NeedTerminal { candidates } => {
                format!("pass --identity=NAME; identities: {}", abbreviate(candidates))
            }
        })
    }
}

fn abbreviate(names: &[String]) -> String {
    const MAX: usize = 12;
    let shown: Vec<&str> = names.iter().take(MAX).map(String::as_str).collect();
    if names.len() > MAX { format!("{} and {} more", shown.join(", "), names.len() - MAX) } else { shown.join(", ") }
}

/// Reports problems outside the chosen chain as warnings (a run goes on without them).
pub fn warn_problems(problems: &[Problem]) {
    for p in problems {
        tracing::warn!("{p}");
    }
}

//! The `auth:` schema (CONTRACT A2): typed providers, identities and integrations, and
//! the checks `tfauth auth validate` makes of them; whether their `via` links form chains
//! is `identity::chain`'s to check (`identity::parse_auth` has both). Parsing never stops
//! at the first problem: it collects all of them, each with the file and line where the
//! YAML has one. Pure; no I/O.

pub mod schema;

pub use schema::{
    AksCluster, AuthConfig, Cloud, EksCluster, GkeCluster, Identity, IdentityKind, Integration, IntegrationKind,
    KubeconfigSpec, KubeconfigUpdate, Notes, Problem, Provider, ProviderKind, SamlBrowser, SamlDriver, Subject, Via,
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
        /// The profiles not applied that define it (Atmos's profile fallback); filled in
        /// by the resolver, which reads them (`config::profiles_defining`).
        fallback: Option<Box<ProfileFallback>>,
    },
    #[error("no default identity{}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default())]
    /// `example`: a component and a stack that defines it, when none was given (a default a
    /// stack manifest sets applies only with them).
    NoDefault { candidates: Vec<String>, context: Option<String>, example: Option<(String, String)> },
    #[error("several default identities{}: {}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default(), candidates.iter().map(|(n, s)| format!("`{n}` ({s})")).collect::<Vec<_>>().join(", "))]
    SeveralDefaults { candidates: Vec<(String, Span)>, context: Option<String> },
    #[error("identity `{name}` is marked `default: true` at {span}, but no provider or identity defines it")]
    DefaultUndefined { name: String, span: Span, profiles: Vec<String> },
    #[error("`--identity` without a value asks which identity to use, but there is no terminal to ask on")]
    NeedTerminal { candidates: Vec<String> },
}

/// Where an identity that is not defined would be: the profiles, not applied, that define
/// it, and the ones applied now (kept beside the one to add).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFallback {
    pub defined_in: Vec<String>,
    pub applied: Vec<String>,
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
            AuthError::UnknownIdentity { name, fallback: Some(f), .. } if !f.defined_in.is_empty() => {
                profile_fallback_hint(name, &f.defined_in, &f.applied)
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
                        "\nhint: an identity defined in a stack's or component's `auth:` exists only with that component and stack on the command line (the component and `--stack STACK`)",
                    );
                }
                h
            }
            AuthError::NoDefault { candidates, .. } if candidates.is_empty() => {
                "no identities are defined; set ATMOS_PROFILE or --profile, or --identity=false to run without auth"
                    .into()
            }
            AuthError::NoDefault { candidates, example, .. } => {
                let mut h = format!(
                    "pass --identity NAME (or set ATMOS_IDENTITY), or mark one identity `default: true`; identities: {}",
                    abbreviate(candidates)
                );
                if let Some((component, stack)) = example {
                    h.push_str(&format!(
                        "\nhint: a `default: true` set in a stack manifest applies only with a component and stack: `{component} -s {stack}`"
                    ));
                }
                h
            }
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

/// Names the profiles that define `name` and the `--profile` that adds the first of them
/// to those applied. Atmos prints the same advice without a terminal, and offers to re-run
/// with the profile on one (`pkg/auth/profile_fallback.go`); tfauth only advises.
fn profile_fallback_hint(name: &str, in_profiles: &[String], applied: &[String]) -> String {
    let with = |p: &str| applied.iter().map(String::as_str).chain([p]).collect::<Vec<_>>().join(",");
    let keep = match applied {
        [] => String::new(),
        [one] => format!(" (keeping profile `{one}`, applied now)"),
        many => format!(" (keeping profiles {}, applied now)", quote_list(many)),
    };
    match in_profiles {
        [one] => {
            format!("identity `{name}` is defined in profile `{one}`: run again with `--profile {}`{keep}", with(one))
        }
        many => format!(
            "identity `{name}` is defined in profiles {}: run again with one of them, e.g. `--profile {}`{keep}",
            quote_list(many),
            with(&many[0])
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(in_profiles: &[&str], applied: &[&str]) -> AuthError {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        AuthError::UnknownIdentity {
            name: "deploy".into(),
            source_name: "--identity",
            suggestions: v(&["deployer"]),
            available: v(&["deployer"]),
            scoped: false,
            fallback: Some(Box::new(ProfileFallback { defined_in: v(in_profiles), applied: v(applied) })),
        }
    }

    #[test]
    fn an_identity_only_in_other_profiles_names_them_and_the_profile_flag_to_add() {
        let hint = |p: &[&str], a: &[&str]| unknown(p, a).hint().unwrap();
        assert_eq!(hint(&["ci"], &[]), "identity `deploy` is defined in profile `ci`: run again with `--profile ci`");
        assert_eq!(
            hint(&["ci"], &["dev"]),
            "identity `deploy` is defined in profile `ci`: run again with `--profile dev,ci` (keeping profile `dev`, applied now)"
        );
        assert_eq!(
            hint(&["ci", "ops"], &["a", "b"]),
            "identity `deploy` is defined in profiles `ci`, `ops`: run again with one of them, e.g. `--profile a,b,ci` \
             (keeping profiles `a`, `b`, applied now)"
        );
        // In no profile: the nearest names, as before.
        assert_eq!(hint(&[], &[]), "did you mean `deployer`?");
        assert_eq!(unknown(&["ci"], &[]).to_string(), "identity `deploy` (from --identity) is not defined");
    }
}

//! The chain from a root to the chosen identity: provider → identity → … → identity, or a
//! standalone identity (aws/user, aws/ambient) → identity → …. Pure: follows `via` links
//! in the typed config, and does no I/O.
//!
//! Every decision about links is made here, once: where a `via` leads (`link`), whether
//! it dangles, whether a chain comes back on itself ([`build`]), and whether a link can work
//! at all (one cloud, the right kinds; [`check`]). A run builds one chain; `tfauth auth
//! validate` and `tfauth doctor` build every identity's, through [`check`], so a run never
//! walks a chain that validation would call broken. `auth` must not repeat any of it.
//! Cases: `test-data/chain-cases.yaml`.

use crate::auth::schema::{identity_cloud, provider_cloud};
use crate::auth::{AuthConfig, Identity, Problem, Provider, Subject, Via};
use crate::yaml::Span;

/// Where a chain starts. (A run holds one or two chains; boxing the provider would buy nothing.)
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ChainRoot {
    Provider(Provider),
    /// The first hop is a standalone identity that holds or finds its own credentials.
    Standalone,
}

/// Root first, leaf (the chosen identity) last.
#[derive(Clone, Debug)]
pub struct Chain {
    pub root: ChainRoot,
    pub hops: Vec<Identity>,
}

impl Chain {
    pub fn leaf(&self) -> &Identity {
        self.hops.last().expect("a chain has at least one identity")
    }
    /// The name of the root: the provider's, or the standalone identity's.
    pub fn root_name(&self) -> &str {
        match &self.root {
            ChainRoot::Provider(p) => &p.name,
            ChainRoot::Standalone => &self.hops[0].name,
        }
    }
    /// `acme-sso (aws/iam-identity-center) -> plat-dev/terraform (aws/permission-set)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let ChainRoot::Provider(p) = &self.root {
            parts.push(format!("{} ({})", p.name, p.kind_name));
        }
        parts.extend(self.hops.iter().map(|h| format!("{} ({})", h.name, h.kind_name)));
        parts.join(" -> ")
    }
    /// Every subject in the chain, for filtering problems that concern it.
    pub fn subjects(&self) -> Vec<Subject> {
        let mut s: Vec<Subject> = self.hops.iter().map(|h| Subject::Identity(h.name.clone())).collect();
        if let ChainRoot::Provider(p) = &self.root {
            s.push(Subject::Provider(p.name.clone()));
        }
        s
    }
}

/// Why no chain ends at an identity. Each variant names the identity at fault and, where
/// the YAML has one, the place to fix; [`Problem::from`] adds the hint a run prints.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ChainError {
    /// The identity asked for is not defined.
    #[error("identity `{name}` is not defined")]
    Undefined { name: String },
    /// An identity that neither stands alone nor has a usable `via` (the schema said why).
    #[error("identity `{identity}` ({kind}) has no valid `via`")]
    NoVia { identity: String, kind: String, span: Span },
    /// `via.provider` names a provider nothing defines.
    #[error("identity `{identity}`: `via.provider` names `{name}`, which is not defined")]
    UnknownProvider { identity: String, name: String, span: Span, defined: Vec<String> },
    /// `via.identity` names an identity nothing defines.
    #[error("identity `{identity}`: `via.identity` names `{name}`, which is not defined")]
    UnknownIdentity { identity: String, name: String, span: Span, defined: Vec<String> },
    /// Following `via.identity` from `leaf` comes back to an identity already on the path:
    /// `path` is the walk (the repeated name last), `path[start..]` the cycle itself, and
    /// `span` where the repeated identity is defined.
    #[error("identity chain cycle: {}", path.join(" -> "))]
    Cycle { leaf: String, path: Vec<String>, start: usize, span: Span },
}

const CYCLE_HINT: &str = "a chain must end at a provider or a standalone identity; break the cycle";

impl From<ChainError> for Problem {
    /// The problem a run reports: about the identity at fault, at its line.
    fn from(e: ChainError) -> Problem {
        let message = e.to_string();
        let (subject, span, hint) = match e {
            ChainError::Undefined { name } => (name, None, None),
            ChainError::NoVia { identity, span, .. } => {
                (identity, Some(span), Some("add `via: {provider: NAME}` or `via: {identity: NAME}`".to_string()))
            }
            ChainError::UnknownProvider { identity, name, span, defined }
            | ChainError::UnknownIdentity { identity, name, span, defined } => {
                (identity, Some(span), Some(did_you_mean(&name, defined.iter().map(String::as_str))))
            }
            ChainError::Cycle { leaf, span, .. } => (leaf, Some(span), Some(CYCLE_HINT.to_string())),
        };
        Problem { subject: Subject::Identity(subject), span, message, hint }
    }
}

/// Where one identity's `via` leads: the one place a link is followed.
enum Link<'a> {
    /// aws/user or aws/ambient: the identity is the chain's root.
    Standalone,
    Provider(&'a Provider, &'a Span),
    Identity(&'a Identity, &'a Span),
}

fn link<'a>(auth: &'a AuthConfig, id: &'a Identity) -> Result<Link<'a>, ChainError> {
    match &id.via {
        None if id.is_standalone() => Ok(Link::Standalone),
        None => Err(ChainError::NoVia { identity: id.name.clone(), kind: id.kind_name.clone(), span: id.span.clone() }),
        Some(Via::Provider(p, span)) => {
            auth.provider(p).map(|p| Link::Provider(p, span)).ok_or_else(|| ChainError::UnknownProvider {
                identity: id.name.clone(),
                name: p.clone(),
                span: span.clone(),
                defined: auth.providers.iter().map(|p| p.name.clone()).collect(),
            })
        }
        Some(Via::Identity(next, span)) => {
            auth.identity(next).map(|n| Link::Identity(n, span)).ok_or_else(|| ChainError::UnknownIdentity {
                identity: id.name.clone(),
                name: next.clone(),
                span: span.clone(),
                defined: auth.identity_names(),
            })
        }
    }
}

/// Builds the chain that ends at identity `leaf` (any case).
pub fn build(auth: &AuthConfig, leaf: &str) -> Result<Chain, ChainError> {
    let start = auth.identity(leaf).ok_or_else(|| ChainError::Undefined { name: leaf.to_string() })?;
    walk(auth, start, leaf)
}

/// Follows `via` from `start` to a root; `leaf` is the name the chain was asked for.
fn walk(auth: &AuthConfig, start: &Identity, leaf: &str) -> Result<Chain, ChainError> {
    let mut hops: Vec<Identity> = Vec::new();
    let mut cur = start;
    loop {
        if let Some(start) = hops.iter().position(|h| h.name.eq_ignore_ascii_case(&cur.name)) {
            let mut path: Vec<String> = hops.iter().map(|h| h.name.clone()).collect();
            path.push(cur.name.clone());
            return Err(ChainError::Cycle { leaf: leaf.to_string(), path, start, span: cur.span.clone() });
        }
        hops.push(cur.clone());
        let root = match link(auth, cur)? {
            Link::Identity(next, _) => {
                cur = next;
                continue;
            }
            Link::Standalone => ChainRoot::Standalone,
            Link::Provider(p, _) => ChainRoot::Provider(p.clone()),
        };
        hops.reverse();
        return Ok(Chain { root, hops });
    }
}

/// What `tfauth auth validate` says about the chains: for each identity in order, its own
/// link (dangling, or one that cannot work), then the cycle its chain runs into, each cycle
/// once, at the first identity whose chain meets it. A missing `via` is the schema's to
/// report, and a link further along is reported at the identity that has it.
pub fn check(auth: &AuthConfig) -> Vec<Problem> {
    check_links(auth).0
}

/// [`check`]'s problems, and the links Atmos walks that tfauth cannot yet (an
/// aws/assume-role straight from IAM Identity Center): those are warnings at validate and
/// refuse only a run whose chain has them (`Notes::unsupported`).
pub fn check_links(auth: &AuthConfig) -> (Vec<Problem>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut not_yet = Vec::new();
    let mut cycles: Vec<Vec<String>> = Vec::new();
    for id in &auth.identities {
        match link(auth, id) {
            Err(ChainError::UnknownProvider { identity, name, span, defined }) => problems.push(Problem {
                subject: Subject::Identity(identity.clone()),
                span: Some(span),
                message: format!("identity `{identity}`: `via.provider` names `{name}`, which is not defined"),
                hint: Some(crate::util::suggest::hint(&name, defined.iter().map(String::as_str), "providers")),
            }),
            Err(ChainError::UnknownIdentity { identity, name, span, defined }) => problems.push(Problem {
                subject: Subject::Identity(identity.clone()),
                span: Some(span),
                message: format!("identity `{identity}`: `via.identity` names `{name}`, which is not defined"),
                hint: Some(crate::util::suggest::hint(&name, defined.iter().map(String::as_str), "identities")),
            }),
            Err(_) | Ok(Link::Standalone) => {}
            Ok(Link::Provider(p, span)) => match link_problem(id, &p.kind_name, true, span) {
                Some(LinkIssue::Broken(p)) => problems.push(p),
                Some(LinkIssue::NotYet(p)) => not_yet.push(p),
                None => {}
            },
            Ok(Link::Identity(next, span)) => {
                match link_problem(id, &next.kind_name, false, span) {
                    Some(LinkIssue::Broken(p)) => problems.push(p),
                    Some(LinkIssue::NotYet(p)) => not_yet.push(p),
                    None => {}
                }
                if let Err(ChainError::Cycle { path, start, .. }) = walk(auth, id, &id.name) {
                    let cycle = &path[start..];
                    let mut key = cycle[..cycle.len() - 1].to_vec();
                    key.sort();
                    if !cycles.contains(&key) {
                        cycles.push(key);
                        problems.push(Problem {
                            subject: Subject::Identity(id.name.clone()),
                            span: Some(span.clone()),
                            message: format!("identity chain cycle: {}", cycle.join(" -> ")),
                            hint: Some(CYCLE_HINT.into()),
                        });
                    }
                }
            }
        }
    }
    (problems, not_yet)
}

/// What is wrong with one link: it can never work, or Atmos walks it and tfauth cannot yet.
enum LinkIssue {
    Broken(Problem),
    NotYet(Problem),
}

/// Why `id` cannot come from a provider (or identity) of kind `from`, if it cannot: a chain
/// stays in one cloud, and AWS kinds come from the kinds STS and IAM Identity Center accept.
fn link_problem(id: &Identity, from: &str, from_provider: bool, span: &Span) -> Option<LinkIssue> {
    let from_cloud = if from_provider { provider_cloud(from) } else { identity_cloud(from) };
    let (Some(to_cloud), Some(from_cloud)) = (id.cloud(), from_cloud) else {
        return None;
    };
    let problem = |message: String, hint: &str| Problem {
        subject: Subject::Identity(id.name.clone()),
        span: Some(span.clone()),
        message,
        hint: Some(hint.to_string()),
    };
    let fail = |message: String, hint: &str| Some(LinkIssue::Broken(problem(message, hint)));
    let not_yet = |message: String, hint: &str| Some(LinkIssue::NotYet(problem(message, hint)));
    let what = if from_provider { "provider" } else { "identity" };
    if to_cloud != from_cloud {
        return fail(
            format!(
                "identity `{}` ({}) is {to_cloud} but comes from a {from_cloud} {what} ({from})",
                id.name, id.kind_name
            ),
            "an identity's chain must stay in one cloud",
        );
    }
    match (id.kind_name.as_str(), from_provider, from) {
        ("aws/permission-set", true, "aws/iam-identity-center") => None,
        ("aws/permission-set", _, _) => fail(
            format!(
                "identity `{}` (aws/permission-set) must come from an aws/iam-identity-center provider, not from the {from} {what}",
                id.name
            ),
            "point `via.provider` at your IAM Identity Center provider",
        ),
        // Atmos accepts these (its docs show assume-role from an IAM Identity Center
        // provider) and hands the provider's portal token to STS as if it were a key; tfauth
        // has no way to walk them.
        ("aws/assume-role" | "aws/assume-root", true, "aws/iam-identity-center") => not_yet(
            format!(
                "identity `{}` ({}) straight from an IAM Identity Center provider is {}",
                id.name,
                id.kind_name,
                crate::auth::schema::NOT_SUPPORTED_YET
            ),
            "chain it from an aws/permission-set identity with `via.identity` (IAM Identity Center gives role credentials only through a permission set)",
        ),
        ("aws/assume-root", true, _) => not_yet(
            format!(
                "identity `{}` (aws/assume-root) straight from a {from} provider is {}",
                id.name,
                crate::auth::schema::NOT_SUPPORTED_YET
            ),
            "chain it with `via.identity` from an AWS identity in the management account",
        ),
        _ => None,
    }
}

/// The hint a run prints for a name nothing defines (it points at `auth list`; validate's
/// lists the names instead).
fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match crate::util::suggest::nearest(name, candidates).first() {
        Some(n) => format!("did you mean `{n}`?"),
        None => "define it, or fix the name; `tfauth auth list` shows what is defined".to_string(),
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;

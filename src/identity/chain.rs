//! The chain from a root to the chosen identity: provider → identity → … → identity, or a
//! standalone identity (aws/user, aws/ambient) → identity → …. Pure: follows `via` links
//! in the typed config. Problems found by validation (dangling links, cycles) are errors
//! here too, so a run never walks a broken chain.

use crate::auth::{AuthConfig, Identity, Problem, Provider, Subject, Via};

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

/// Builds the chain that ends at identity `leaf`.
pub fn build(auth: &AuthConfig, leaf: &str) -> Result<Chain, Problem> {
    let mut hops: Vec<Identity> = Vec::new();
    let mut cur = auth.identity(leaf).ok_or_else(|| Problem {
        subject: Subject::Identity(leaf.to_string()),
        span: None,
        message: format!("identity `{leaf}` is not defined"),
        hint: None,
    })?;
    loop {
        if hops.iter().any(|h| h.name.eq_ignore_ascii_case(&cur.name)) {
            let mut path: Vec<String> = hops.iter().map(|h| h.name.clone()).collect();
            path.push(cur.name.clone());
            return Err(Problem {
                subject: Subject::Identity(leaf.to_string()),
                span: Some(cur.span.clone()),
                message: format!("identity chain cycle: {}", path.join(" -> ")),
                hint: Some("a chain must end at a provider or a standalone identity; break the cycle".into()),
            });
        }
        hops.push(cur.clone());
        match &cur.via {
            None if cur.is_standalone() => {
                hops.reverse();
                return Ok(Chain { root: ChainRoot::Standalone, hops });
            }
            None => {
                return Err(Problem {
                    subject: Subject::Identity(cur.name.clone()),
                    span: Some(cur.span.clone()),
                    message: format!("identity `{}` ({}) has no valid `via`", cur.name, cur.kind_name),
                    hint: Some("add `via: {provider: NAME}` or `via: {identity: NAME}`".into()),
                });
            }
            Some(Via::Provider(p, span)) => {
                let provider = auth.provider(p).ok_or_else(|| Problem {
                    subject: Subject::Identity(cur.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.provider` names `{p}`, which is not defined", cur.name),
                    hint: Some(did_you_mean(p, auth.providers.iter().map(|p| p.name.as_str()))),
                })?;
                hops.reverse();
                return Ok(Chain { root: ChainRoot::Provider(provider.clone()), hops });
            }
            Some(Via::Identity(next, span)) => {
                cur = auth.identity(next).ok_or_else(|| Problem {
                    subject: Subject::Identity(cur.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.identity` names `{next}`, which is not defined", cur.name),
                    hint: Some(did_you_mean(next, auth.identities.iter().map(|i| i.name.as_str()))),
                })?;
            }
        }
    }
}

fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match crate::util::suggest::nearest(name, candidates).first() {
        Some(n) => format!("did you mean `{n}`?"),
        None => "define it, or fix the name; `tfauth auth list` shows what is defined".to_string(),
    }
}

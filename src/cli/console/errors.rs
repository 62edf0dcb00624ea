//! What `auth console` refuses before it asks any cloud for anything: a destination that
//! is no alias and no console, an identity of a kind without a console, an Azure identity
//! whose tenant the portal URL cannot name. Each says what was given and what to do.
//!
//! It must not carry a URL's path or query (a pasted sign-in URL would carry a token), nor
//! any credential: only hosts, aliases, identity and provider names.

use crate::auth::Cloud;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("--destination `{given}` is not a {} alias, nor a URL", cloud_console(*cloud))]
    UnknownAlias { given: String, cloud: Cloud, near: Vec<String> },
    #[error("{}", not_console(host.as_deref(), reason, *cloud))]
    NotConsoleUrl {
        /// The URL's host, when it had one that could be read; then `reason` says what the
        /// host is not.
        host: Option<String>,
        reason: String,
        cloud: Cloud,
        /// The host a destination of this identity's console would be on.
        expected: String,
    },
    #[error("--destination `{host}` is the console of {host_partition}, and the identity's session is for {partition}")]
    OtherPartition { host: String, host_partition: &'static str, partition: &'static str },
    #[error("`auth console` has no console for `{identity}`: it is a {kind} identity{}", cloud.map(|c| format!(" ({c})")).unwrap_or_default())]
    NoConsole { identity: String, kind: String, cloud: Option<Cloud> },
    #[error("--destination `{alias}` opens the Azure subscription, and `{identity}` names none")]
    NoSubscription { identity: String, alias: String },
}

fn cloud_console(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Azure => "portal",
        _ => "console",
    }
}

fn not_console(host: Option<&str>, reason: &str, cloud: Cloud) -> String {
    match host {
        Some(h) => format!("--destination: `{h}` {reason}"),
        None => {
            let what = if cloud == Cloud::Azure { "an Azure portal URL" } else { "an AWS console URL" };
            format!("--destination is not {what} tfauth can use: {reason}")
        }
    }
}

impl ConsoleError {
    pub fn hint(&self) -> String {
        match self {
            ConsoleError::UnknownAlias { near, cloud, given } => {
                let example = match cloud {
                    Cloud::Azure => "https://portal.azure.com/#@<tenant>/...",
                    _ => "https://console.aws.amazon.com/s3",
                };
                let lead = match near.first() {
                    Some(n) => format!("did you mean `{n}`? "),
                    // `console.aws.amazon.com/s3`: a URL without its scheme.
                    None if given.contains(['.', '/']) => format!("a URL starts with https:// (https://{given}); "),
                    None => String::new(),
                };
                format!("{lead}`tfauth auth console --help` lists the aliases; a full URL ({example}) works too")
            }
            ConsoleError::NotConsoleUrl { cloud, expected, .. } => match cloud {
                Cloud::Azure => format!("give a URL on https://{expected}/ (the portal of the identity's cloud), or an alias such as `rg`"),
                _ => format!(
                    "give a URL on https://{expected}/ or a host under it (https://us-east-1.{expected}/...), or an alias such as `s3`"
                ),
            },
            ConsoleError::OtherPartition { partition, .. } => {
                format!("a console session of {partition} opens only that partition's console: use an alias (`s3`), or a URL on its console host")
            }
            ConsoleError::NoConsole { cloud: Some(Cloud::Gcp), .. } => {
                "the Google Cloud console has no sign-in link to make (Atmos has none yet either): sign in at https://console.cloud.google.com, or pass an AWS or Azure identity with --identity".into()
            }
            ConsoleError::NoConsole { .. } => {
                "`auth console` opens the AWS console or the Azure portal: pass an AWS or Azure identity with --identity (`tfauth auth list` shows them)".into()
            }
            ConsoleError::NoSubscription { .. } => {
                "set `principal.subscription_id` on an azure/subscription identity, or `spec.subscription_id` on its provider; or choose another --destination".into()
            }
        }
    }
}

impl From<ConsoleError> for Error {
    fn from(e: ConsoleError) -> Error {
        let hint = e.hint();
        Error::usage(e.to_string(), Some(hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_hint_names_the_nearest_or_the_missing_scheme() {
        let e = |given: &str, near: &[&str]| ConsoleError::UnknownAlias {
            given: given.into(),
            cloud: Cloud::Aws,
            near: near.iter().map(|s| s.to_string()).collect(),
        };
        assert!(e("s4", &["s3"]).hint().starts_with("did you mean `s3`? "));
        assert!(
            e("console.aws.amazon.com/s3", &[])
                .hint()
                .starts_with("a URL starts with https:// (https://console.aws.amazon.com/s3)")
        );
        assert!(e("zzz", &[]).hint().starts_with("`tfauth auth console --help` lists the aliases"));
    }
}

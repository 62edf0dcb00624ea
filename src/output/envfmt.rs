//! `tfauth auth env --format ...`: one environment plan in the syntax of each place it is
//! loaded into. Pure: the caller decides where the text goes.
//!
//! - `bash` (also zsh, sh): `unset` / `export`, values single-quoted when needed.
//! - `fish`: `set -e` / `set -gx`.
//! - `powershell`: `Remove-Item Env:` / `$env:NAME = '...'`.
//! - `dotenv`: `NAME=value` lines, the value single-quoted where the shell needs it (as
//!   Atmos writes them).
//! - `env`: `NAME=value` lines as they are, for `docker --env-file` and `env`; a value with
//!   a line break cannot be one ([`unquotable`]).
//! - `json`: one object of the variables set.
//! - `github`: the lines for `$GITHUB_ENV` (multi-line values in its heredoc form; cleared
//!   variables set empty, since a step cannot unset them), plus, for stdout, one
//!   `::add-mask::` command per line of every secret value, so the Actions log hides it
//!   wherever a later step prints it.

use super::env::shell_quote;
use crate::env_vars as ev;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvFormat {
    Bash,
    Fish,
    Powershell,
    Dotenv,
    Env,
    Json,
    Github,
    /// The JSON terragrunt's `--auth-provider-cmd` reads: `awsCredentials` and `envs`.
    Terragrunt,
}

/// Variables whose values are secrets wherever they come from (a plan also names its own).
pub const SECRET_NAMES: &[&str] = &[
    ev::AWS_SECRET_ACCESS_KEY,
    ev::AWS_SESSION_TOKEN,
    ev::AWS_SECURITY_TOKEN,
    ev::ARM_CLIENT_SECRET,
    ev::ARM_OIDC_TOKEN,
    ev::ARM_OIDC_REQUEST_TOKEN,
    ev::AZURE_CLIENT_SECRET,
    ev::GOOGLE_OAUTH_ACCESS_TOKEN,
    ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
    ev::AWS_CONTAINER_AUTHORIZATION_TOKEN,
];

/// What to print and, for `github`, what to append to `$GITHUB_ENV`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub stdout: String,
    pub github_env: Option<String>,
}

/// Renders `set` and `cleared` (the variables to remove that are present) in `format`;
/// `secret` tells which names hold secrets.
pub fn render(
    set: &BTreeMap<String, String>,
    cleared: &[String],
    format: EnvFormat,
    secret: &dyn Fn(&str) -> bool,
) -> Rendered {
    let mut out = String::new();
    match format {
        EnvFormat::Bash => {
            cleared.iter().for_each(|k| out.push_str(&format!("unset {k}\n")));
            set.iter().for_each(|(k, v)| out.push_str(&format!("export {k}={}\n", shell_quote(v))));
        }
        EnvFormat::Fish => {
            cleared.iter().for_each(|k| out.push_str(&format!("set -e {k}\n")));
            set.iter().for_each(|(k, v)| out.push_str(&format!("set -gx {k} {}\n", fish_quote(v))));
        }
        EnvFormat::Powershell => {
            cleared.iter().for_each(|k| out.push_str(&format!("Remove-Item Env:{k} -ErrorAction SilentlyContinue\n")));
            set.iter().for_each(|(k, v)| out.push_str(&format!("$env:{k} = {}\n", powershell_quote(v))));
        }
        EnvFormat::Dotenv => set.iter().for_each(|(k, v)| out.push_str(&format!("{k}={}\n", shell_quote(v)))),
        EnvFormat::Env => set.iter().for_each(|(k, v)| out.push_str(&format!("{k}={v}\n"))),
        EnvFormat::Json => {
            out = serde_json::to_string_pretty(set).unwrap_or_default();
            out.push('\n');
        }
        EnvFormat::Terragrunt => out = terragrunt(set, None),
        EnvFormat::Github => {
            let mut file = String::new();
            for k in cleared {
                file.push_str(&format!("{k}=\n"));
            }
            for (k, v) in set {
                file.push_str(&github_line(k, v));
            }
            for (k, v) in set.iter().filter(|(k, _)| secret(k)) {
                let _ = k;
                for line in v.lines().filter(|l| !l.trim().is_empty()) {
                    out.push_str(&format!("::add-mask::{line}\n"));
                }
            }
            return Rendered { stdout: out, github_env: Some(file) };
        }
    }
    Rendered { stdout: out, github_env: None }
}

/// The variables terragrunt is not handed in `envs`: with `awsCredentials` set, a profile
/// (and the files that define it) would only compete with the keys.
pub const TERRAGRUNT_DROPPED: &[&str] =
    &[ev::AWS_PROFILE, ev::AWS_DEFAULT_PROFILE, ev::AWS_CONFIG_FILE, ev::AWS_SHARED_CREDENTIALS_FILE];

/// terragrunt's auth provider document: `awsCredentials` (`ACCESS_KEY_ID`,
/// `SECRET_ACCESS_KEY`, `SESSION_TOKEN`) when there are AWS keys, and `envs` with the rest
/// of the environment (without the AWS profile variables when there are keys). It cannot
/// unset a variable: terragrunt only sets what `envs` names.
pub fn terragrunt(set: &BTreeMap<String, String>, aws: Option<&crate::providers::credentials::Credentials>) -> String {
    let envs: serde_json::Map<String, serde_json::Value> = set
        .iter()
        .filter(|(k, _)| aws.is_none() || !TERRAGRUNT_DROPPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut doc = serde_json::json!({"envs": envs});
    if let Some(c) = aws {
        let mut creds = serde_json::json!({
            "ACCESS_KEY_ID": c.access_key_id,
            "SECRET_ACCESS_KEY": c.secret_access_key.expose(),
        });
        if let Some(t) = &c.session_token {
            creds["SESSION_TOKEN"] = t.expose().into();
        }
        doc["awsCredentials"] = creds;
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// The first variable whose value the `env` format cannot hold: one with a line break (or
/// NUL) would end the line and start another, so a value could add a variable.
pub fn unquotable(set: &BTreeMap<String, String>) -> Option<&str> {
    set.iter().find(|(_, v)| v.contains(['\n', '\r', '\0'])).map(|(k, _)| k.as_str())
}

/// One `$GITHUB_ENV` entry: `NAME=value`, or the heredoc form for multi-line values with a
/// delimiter that does not occur in the value.
fn github_line(k: &str, v: &str) -> String {
    if !v.contains('\n') && !v.contains('\r') {
        return format!("{k}={v}\n");
    }
    let mut n = 0u32;
    let delim = loop {
        let d = format!("TFAUTH_EOF_{n}");
        if !v.contains(&d) {
            break d;
        }
        n += 1;
    };
    format!("{k}<<{delim}\n{v}\n{delim}\n")
}

/// fish: single quotes, where only `\` and `'` are escaped.
fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// PowerShell: single quotes, where `'` is doubled (no other escapes).
fn powershell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> BTreeMap<String, String> {
        [("AWS_PROFILE", "plat-dev/terraform"), ("ARM_OIDC_REQUEST_TOKEN", "tok'en"), ("NOTE", "a b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    fn is_secret(k: &str) -> bool {
        SECRET_NAMES.contains(&k)
    }

    #[test]
    fn terragrunt_gets_the_keys_and_the_rest_but_no_profile_to_compete_with_them() {
        let creds = crate::providers::credentials::Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: crate::secret::Secret::new("s3cret"),
            session_token: Some(crate::secret::Secret::new("tok")),
            expiration: None,
            issued: None,
        };
        let doc: serde_json::Value = serde_json::from_str(&terragrunt(&set(), Some(&creds))).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "awsCredentials": {"ACCESS_KEY_ID": "ASIAEXAMPLE", "SECRET_ACCESS_KEY": "s3cret", "SESSION_TOKEN": "tok"},
                "envs": {"ARM_OIDC_REQUEST_TOKEN": "tok'en", "NOTE": "a b"},
            })
        );
        // Without keys (a GCP or Azure identity), the environment as it is.
        let doc: serde_json::Value =
            serde_json::from_str(&render(&set(), &[], EnvFormat::Terragrunt, &is_secret).stdout).unwrap();
        assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), ["envs"]);
        assert_eq!(doc["envs"]["AWS_PROFILE"], "plat-dev/terraform");
    }

    #[test]
    fn fish_and_powershell_quote_what_they_must() {
        let r = render(&set(), &["AWS_ACCESS_KEY_ID".into()], EnvFormat::Fish, &is_secret);
        assert!(r.stdout.starts_with("set -e AWS_ACCESS_KEY_ID\n"));
        assert!(r.stdout.contains("set -gx ARM_OIDC_REQUEST_TOKEN 'tok\\'en'\n"), "{}", r.stdout);
        let r = render(&set(), &["AWS_ACCESS_KEY_ID".into()], EnvFormat::Powershell, &is_secret);
        assert!(r.stdout.starts_with("Remove-Item Env:AWS_ACCESS_KEY_ID -ErrorAction SilentlyContinue\n"));
        assert!(r.stdout.contains("$env:ARM_OIDC_REQUEST_TOKEN = 'tok''en'\n"), "{}", r.stdout);
        assert!(r.stdout.contains("$env:NOTE = 'a b'\n"));
    }

    #[test]
    fn github_masks_secrets_on_stdout_and_writes_the_rest_to_the_file() {
        let r = render(&set(), &["AWS_SESSION_TOKEN".into()], EnvFormat::Github, &is_secret);
        assert_eq!(r.stdout, "::add-mask::tok'en\n");
        let file = r.github_env.unwrap();
        assert!(file.starts_with("AWS_SESSION_TOKEN=\n"), "cleared variables are emptied: {file}");
        assert!(file.contains("AWS_PROFILE=plat-dev/terraform\n"));
        assert!(file.contains("ARM_OIDC_REQUEST_TOKEN=tok'en\n"));
    }

    #[test]
    fn github_multiline_values_use_a_delimiter_not_in_the_value() {
        let line = github_line("K", "a\nTFAUTH_EOF_0\nb");
        assert_eq!(line, "K<<TFAUTH_EOF_1\na\nTFAUTH_EOF_0\nb\nTFAUTH_EOF_1\n");
        let mut s = BTreeMap::new();
        s.insert("ARM_OIDC_TOKEN".to_string(), "l1\nl2".to_string());
        let r = render(&s, &[], EnvFormat::Github, &is_secret);
        assert_eq!(r.stdout, "::add-mask::l1\n::add-mask::l2\n", "each line of a secret is masked");
    }

    #[test]
    fn dotenv_quotes_as_the_shell_needs_and_env_writes_values_as_they_are() {
        let r = render(&set(), &["AWS_ACCESS_KEY_ID".into()], EnvFormat::Dotenv, &is_secret);
        assert_eq!(r.stdout, "ARM_OIDC_REQUEST_TOKEN='tok'\\''en'\nAWS_PROFILE=plat-dev/terraform\nNOTE='a b'\n");
        let r = render(&set(), &["AWS_ACCESS_KEY_ID".into()], EnvFormat::Env, &is_secret);
        assert_eq!(r.stdout, "ARM_OIDC_REQUEST_TOKEN=tok'en\nAWS_PROFILE=plat-dev/terraform\nNOTE=a b\n");
        assert_eq!(unquotable(&set()), None);
        let mut s = set();
        s.insert("MULTI".into(), "a\nEVIL=1".into());
        assert_eq!(unquotable(&s), Some("MULTI"));
    }

    #[test]
    fn bash_unsets_then_exports() {
        let r = render(&set(), &["AWS_ACCESS_KEY_ID".into()], EnvFormat::Bash, &is_secret);
        assert!(r.stdout.starts_with("unset AWS_ACCESS_KEY_ID\nexport ARM_OIDC_REQUEST_TOKEN="));
        assert!(r.github_env.is_none());
    }
}

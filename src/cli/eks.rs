//! `tfauth aws eks token` (the exec credential plugin kubeconfigs run) and `tfauth aws
//! eks update-kubeconfig`, named as Atmos names them.
//!
//! The token plugin is the helper's twin: stdout is one `ExecCredential` JSON document and
//! nothing else; errors go to stderr with a hint and an exit code. Its warm path (a fresh
//! session in the cache entry `--key` names) reads one file, presigns (computation, no
//! network) and prints: no YAML, no runtime, no SDK client. The kubeconfigs tfauth writes
//! run it through `atmos-auth-helper aws eks token ...` ([`warm_from_args`]), the small
//! binary, whose start costs what the credential helper's does; `tfauth aws eks token`
//! dispatches it before the full command line is parsed ([`token_main`]). Otherwise it
//! resolves and obtains the session as the helper does ([`super::helper::cold_session`]):
//! single flight, and exit 77 at once when a sign-in needs a terminal that is not there.
//!
//! It must not print the token anywhere but stdout, or sign for another endpoint than STS's.

use super::Ctx;
use super::helper::{cold_session, is_key};
use crate::env_vars::{self as ev, Env};
use crate::error::Error;
use crate::identity::IdentityFlag;
use crate::logins;
use crate::session::cache::{self, Cache};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use time::OffsetDateTime;

/// `tfauth aws ...`: AWS tools.
#[derive(Args, Debug)]
pub struct AwsArgs {
    #[command(subcommand)]
    pub command: AwsCommand,
}

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// EKS: kubeconfigs whose user is tfauth, and the tokens they ask for.
    Eks(EksArgs),
}

#[derive(Args, Debug)]
pub struct EksArgs {
    #[command(subcommand)]
    pub command: EksCommand,
}

#[derive(Subcommand, Debug)]
pub enum EksCommand {
    /// Print a bearer token for an EKS cluster as kubectl's ExecCredential JSON.
    Token(TokenArgs),
    /// Write a cluster's kubeconfig entry (an aws/eks integration's, or one named here).
    UpdateKubeconfig(UpdateKubeconfigArgs),
}

/// Print a bearer token for an EKS cluster as kubectl's ExecCredential JSON.
///
/// One JSON document on stdout, nothing else; errors on stderr. The kubeconfigs tfauth
/// writes run it with the cache key of the identity's session, so a warm call reads one
/// file and signs locally; otherwise it signs in as the credential helper does (exit 77
/// when that needs a terminal and there is none).
#[derive(Args, Debug, Clone, Default)]
#[command(after_long_help = "\
Examples:
  # What a kubeconfig written by tfauth runs (kubectl reads the JSON on stdout)
  tfauth aws eks token --cluster-name dev --region us-east-2 --identity plat-dev/admin

  # In a kubeconfig of your own
  users:
  - name: dev
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: tfauth
        args: [aws, eks, token, --cluster-name, dev, --region, us-east-2, -i, dev/admin]
        interactiveMode: Never")]
pub struct TokenArgs {
    /// The cluster's name (the token is bound to it).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: String,
    /// The cluster's region (STS is called there).
    #[arg(long)]
    pub region: String,
    /// The identity whose session signs the token (default: ATMOS_IDENTITY, else the default identity).
    #[arg(short = 'i', long, value_name = "ID")]
    pub identity: Option<String>,
    /// The atmos.yaml to read (default: found from the current directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Profiles to apply, comma-separated.
    #[arg(long)]
    pub profile: Option<String>,
    /// Use this stack's (and component's) merged auth.
    #[arg(long)]
    pub stack: Option<String>,
    /// With --stack: the component whose merged auth to use.
    #[arg(long)]
    pub component: Option<String>,
    /// The cache key tfauth computed for the identity's chain (lets the warm path skip all YAML).
    #[arg(long)]
    pub key: Option<String>,
    /// The refresh margin configured in atmos.yaml (`auth.refresh_margin`).
    #[arg(long)]
    pub margin: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # An aws/eks integration of atmos.yaml, where it says (default ~/.config/atmos/kube/config)
  tfauth aws eks update-kubeconfig --integration dev-eks

  # A cluster named here, into your own kubeconfig
  tfauth aws eks update-kubeconfig --name dev --region us-east-2 -i plat-dev/admin --kubeconfig ~/.kube/config")]
pub struct UpdateKubeconfigArgs {
    /// The aws/eks integration (a name under `auth.integrations`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["name", "alias"])]
    pub integration: Option<String>,
    /// The cluster's name (with --region and --identity, instead of --integration).
    #[arg(long, requires_all = ["region", "identity"])]
    pub name: Option<String>,
    /// The cluster's region.
    #[arg(long)]
    pub region: Option<String>,
    /// The identity whose session describes the cluster and signs its tokens.
    #[arg(short = 'i', long, value_name = "ID")]
    pub identity: Option<String>,
    /// The context's name (default: the cluster's ARN).
    #[arg(long)]
    pub alias: Option<String>,
    /// The kubeconfig to write (default: the integration's `kubeconfig.path`, else Atmos's).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The component whose merged auth to use (needs --stack).
    #[arg(long = "component", short = 'c')]
    pub component: Option<String>,
    /// The stack whose merged auth to use.
    #[arg(short = 's', long)]
    pub stack: Option<String>,
}

pub fn run(args: AwsArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        AwsCommand::Eks(EksArgs { command: EksCommand::Token(t) }) => {
            let doc = token(&t, &ctx.env, ctx.cwd.clone())?;
            Ok(print(&doc))
        }
        AwsCommand::Eks(EksArgs { command: EksCommand::UpdateKubeconfig(u) }) => update_kubeconfig(u, ctx),
    }
}

/// The words before the token plugin's flags, which [`token_main`] is dispatched on.
pub const TOKEN_WORDS: [&str; 3] = ["aws", "eks", "token"];

/// `tfauth aws eks token ARGS...`, run straight from the binary's entry point: the small
/// parser of [`TokenArgs`] only, and logging set up only on the cold path. Returns the
/// exit code.
pub fn token_main(args: impl Iterator<Item = std::ffi::OsString>) -> i32 {
    use clap::FromArgMatches;
    let cmd = TokenArgs::augment_args(clap::Command::new("tfauth aws eks token").version(env!("CARGO_PKG_VERSION")));
    let parsed = cmd.try_get_matches_from(std::iter::once("tfauth aws eks token".into()).chain(args));
    let args = match parsed.and_then(|m| TokenArgs::from_arg_matches(&m)) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
            if help {
                let _ = e.print();
                return 0;
            }
            eprint!("{}", e.render());
            return crate::exit::USAGE;
        }
    };
    let env = Env::capture();
    crate::util::dirs::trust_home(&env);
    let doc = match warm(&args, &env) {
        Some(doc) => Ok(doc),
        None => {
            crate::util::logging::init(None, &env, true);
            let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
            cold(&args, &env, cwd)
        }
    };
    match doc {
        Ok(doc) => print(&doc),
        Err(e) => {
            eprint!("{}", crate::error::render(&e, e.hint().as_deref()));
            e.exit_code()
        }
    }
}

/// The warm path for `atmos-auth-helper aws eks token ARGS...`: the ExecCredential when
/// the arguments parse and the cache has a fresh session; `None` sends the caller to
/// `tfauth aws eks token`, which also reports what is wrong with the arguments.
///
/// kubectl runs this before every command, so it takes only what it needs: the words
/// tfauth writes into kubeconfigs, read by [`plugin_words`] (anything else, `None`, and
/// clap's parser in tfauth has the last word), and the variables of [`WARM_VARS`].
pub fn warm_from_args(args: impl Iterator<Item = std::ffi::OsString>) -> Option<String> {
    let args = plugin_words(args)?;
    let env = Env::capture_only(WARM_VARS);
    crate::util::dirs::trust_home(&env);
    warm(&args, &env)
}

/// Every variable [`warm`] reads: where the cache is, the refresh margin, the STS endpoint.
pub const WARM_VARS: &[&str] = &[
    ev::HOME,
    ev::XDG_CACHE_HOME,
    ev::ATMOS_XDG_CACHE_HOME,
    ev::TFAUTH_REFRESH_MARGIN,
    ev::AWS_ENDPOINT_URL_STS,
    ev::AWS_ENDPOINT_URL,
];

/// The token plugin's flags as `--flag VALUE`, `--flag=VALUE` or `-i VALUE`; `None` for
/// anything else (an unknown flag, a missing value, a word that is not UTF-8, no cluster or
/// region), which goes to clap.
pub fn plugin_words(args: impl Iterator<Item = std::ffi::OsString>) -> Option<TokenArgs> {
    let mut t = TokenArgs::default();
    for (flag, value) in super::helper::flag_pairs(args)? {
        match flag.as_str() {
            "--cluster-name" => t.cluster_name = value,
            "--region" => t.region = value,
            "-i" | "--identity" => t.identity = Some(value),
            "--config" => t.config = Some(value.into()),
            "--profile" => t.profile = Some(value),
            "--stack" => t.stack = Some(value),
            "--component" => t.component = Some(value),
            "--key" => t.key = Some(value),
            "--margin" => t.margin = Some(value),
            _ => return None,
        }
    }
    (!t.cluster_name.is_empty() && !t.region.is_empty()).then_some(t)
}

/// The ExecCredential for the arguments, warm or cold.
pub fn token(args: &TokenArgs, env: &Env, cwd: PathBuf) -> Result<String, Error> {
    match warm(args, env) {
        Some(doc) => Ok(doc),
        None => cold(args, env, cwd),
    }
}

/// The warm path: a fresh session in the cache entry `--key` names, presigned now.
pub fn warm(args: &TokenArgs, env: &Env) -> Option<String> {
    let key = args.key.as_deref().filter(|k| is_key(k))?;
    let cache = Cache::new(env, "aws")?;
    let creds = cache.read(key)?;
    if !creds.fresh_for(cache::margin(env, args.margin.as_deref()), OffsetDateTime::now_utc()) {
        return None;
    }
    let endpoint = crate::providers::eks::sts_endpoint(env, &args.region).ok()?;
    let t =
        crate::providers::eks::token(&creds, &args.cluster_name, &args.region, &endpoint, std::time::SystemTime::now())
            .ok()?;
    Some(crate::providers::eks::exec_credential(&t))
}

/// The cold path: resolve the identity, obtain its session (single flight), presign.
pub fn cold(args: &TokenArgs, env: &Env, cwd: PathBuf) -> Result<String, Error> {
    let named =
        args.identity.clone().or_else(|| env.get(ev::ATMOS_IDENTITY).filter(|v| !v.is_empty()).map(String::from));
    let identity = match &named {
        Some(n) => IdentityFlag::Named(n.clone()),
        None => IdentityFlag::Absent,
    };
    let req = crate::resolve::Request {
        cwd,
        config_file: args.config.clone(),
        profiles: args.profile.iter().cloned().collect(),
        stack: args.stack.clone(),
        component: args.component.clone(),
        identity,
        describe: false,
    };
    let endpoint = crate::providers::eks::sts_endpoint(env, &args.region)?;
    let session = cold_session(named.as_deref().unwrap_or("(default)"), req, env)?;
    let t = crate::providers::eks::token(
        &session.credentials,
        &args.cluster_name,
        &args.region,
        &endpoint,
        std::time::SystemTime::now(),
    )?;
    Ok(crate::providers::eks::exec_credential(&t))
}

/// One document and a newline on stdout; 0, or 70 when stdout is gone.
pub(super) fn print(doc: &str) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{doc}").and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => crate::exit::SOFTWARE,
    }
}

/// `tfauth aws eks update-kubeconfig`: an integration's entry, or one for the cluster named
/// on the command line (`--name`, `--region`, `--identity`).
pub fn update_kubeconfig(args: UpdateKubeconfigArgs, ctx: &Ctx) -> Result<i32, Error> {
    let target = super::Target {
        component: args.component.clone(),
        stack: args.stack.clone(),
        identity: Some("false".into()),
        ..Default::default()
    };
    let res = crate::resolve::resolve(&ctx.request(&target), &ctx.env, None)?;
    let kubeconfig = args.kubeconfig.as_ref().map(|p| crate::config::clean_path(&ctx.cwd.join(p)));
    let named;
    let integration = match (&args.integration, &args.name) {
        (Some(name), _) => {
            let chosen = logins::select(&res, Some(name), args.identity.as_deref())?;
            kube_integration(chosen[0], "aws/eks")?
        }
        (None, Some(cluster)) => {
            let (region, identity) =
                (args.region.clone().unwrap_or_default(), args.identity.clone().unwrap_or_default());
            if !crate::auth::schema::is_aws_region(&region) {
                return Err(Error::usage(
                    format!("--region `{region}` is not an AWS region"),
                    Some("pass the cluster's region, such as us-east-2".into()),
                ));
            }
            let eks = crate::auth::EksCluster {
                name: cluster.clone(),
                region,
                alias: args.alias.clone(),
                kubeconfig: crate::auth::KubeconfigSpec::default(),
            };
            named = crate::auth::Integration {
                name: format!("--name {cluster}"),
                kind_name: "aws/eks".into(),
                kind: Some(crate::auth::IntegrationKind::Eks(eks)),
                via: Some((identity, crate::yaml::Span::synthetic())),
                via_provider: None,
                auto_provision: false,
                span: crate::yaml::Span::synthetic(),
            };
            &named
        }
        (None, None) => {
            return Err(Error::usage(
                "update-kubeconfig needs --integration NAME, or --name CLUSTER with --region and --identity"
                    .to_string(),
                Some("`tfauth auth list --integrations` lists the aws/eks integrations".into()),
            ));
        }
    };
    write_entry(&res, integration, kubeconfig.as_deref(), ctx)
}

/// An integration `update-kubeconfig` of `kind` may write: refuses one of another kind.
fn kube_integration<'a>(int: &'a crate::auth::Integration, kind: &str) -> Result<&'a crate::auth::Integration, Error> {
    if int.kind_name == kind {
        return Ok(int);
    }
    let hint = match int.kind_name.as_str() {
        "aws/eks" => format!("`tfauth aws eks update-kubeconfig --integration {}` writes it", int.name),
        "azure/aks" => format!("`tfauth azure aks update-kubeconfig --integration {}` writes it", int.name),
        "gcp/gke" => format!("`tfauth gcp gke update-kubeconfig --integration {}` writes it", int.name),
        _ => format!("`tfauth auth ecr-login {}` runs it", int.name),
    };
    Err(Error::usage(format!("integration `{}` is {}, not {kind}", int.name, int.kind_name), Some(hint)))
}

/// `update-kubeconfig --integration NAME` of a kind (`tfauth azure aks update-kubeconfig`).
pub fn update_integration(
    name: &str,
    kind: &str,
    kubeconfig: Option<PathBuf>,
    component: Option<String>,
    stack: Option<String>,
    ctx: &Ctx,
) -> Result<i32, Error> {
    let target = super::Target { component, stack, identity: Some("false".into()), ..Default::default() };
    let res = crate::resolve::resolve(&ctx.request(&target), &ctx.env, None)?;
    let kubeconfig = kubeconfig.as_ref().map(|p| crate::config::clean_path(&ctx.cwd.join(p)));
    let chosen = logins::select(&res, Some(name), None)?;
    let int = kube_integration(chosen[0], kind)?;
    write_entry(&res, int, kubeconfig.as_deref(), ctx)
}

fn write_entry(
    res: &crate::resolve::Resolution,
    integration: &crate::auth::Integration,
    kubeconfig: Option<&std::path::Path>,
    ctx: &Ctx,
) -> Result<i32, Error> {
    let tty = ctx.prompt();
    let prompt = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let ask = crate::session::Interaction {
        mfa: tty.as_ref().map(|t| t as _),
        login: prompt.as_ref().map(|p| p as _),
        device: prompt.as_ref().map(|p| p as _),
        mode: crate::session::portal::Mode::Use,
    };
    let out = logins::Outputs { docker_config: None, kubeconfig, plugin: &ctx.helper_path() };
    let login = logins::run(res, integration, out, &ctx.env, ask)?;
    super::ecr_login::report(&login);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn words(w: &[&str]) -> impl Iterator<Item = OsString> {
        w.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    /// What clap makes of the same words (the parser tfauth falls back to).
    fn clap_of(w: &[&str]) -> Option<TokenArgs> {
        use clap::FromArgMatches;
        let cmd = TokenArgs::augment_args(clap::Command::new("t"));
        let m = cmd.try_get_matches_from(std::iter::once("t").chain(w.iter().copied())).ok()?;
        TokenArgs::from_arg_matches(&m).ok()
    }

    #[test]
    fn the_warm_parser_reads_what_kubeconfigs_pass_as_clap_does_and_nothing_else() {
        let written = [
            "--cluster-name",
            "dev",
            "--region",
            "us-east-2",
            "--identity",
            "plat/admin",
            "--config",
            "/r/atmos.yaml",
            "--profile",
            "github",
            "--stack",
            "plat-use2-dev",
            "--component",
            "app",
            "--key",
            "0123456789abcdef0123456789abcdef",
            "--margin",
            "10m",
        ];
        for w in [&written[..], &["--cluster-name=dev", "--region=us-east-2", "-i", "x/y"][..]] {
            let ours = plugin_words(words(w)).unwrap_or_else(|| panic!("{w:?}"));
            let theirs = clap_of(w).unwrap();
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{w:?}");
        }
        for w in [
            &["--cluster-name", "dev"][..],
            &["--cluster-name", "dev", "--region"][..],
            &["--cluster-name", "dev", "--region", "r", "--verbose", "x"][..],
            &["--cluster-name", "dev", "--region", "r", "-ix"][..],
            &["--cluster-name", "dev", "--region", "r", "--help"][..],
        ] {
            assert!(plugin_words(words(w)).is_none(), "{w:?} goes to clap");
        }
    }
}

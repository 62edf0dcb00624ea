//! `tfauth gcp gke token` and `tfauth azure aks token`: the exec credential plugins the
//! kubeconfigs of `gcp/gke` and `azure/aks` integrations run (named as Atmos names them),
//! and `tfauth azure aks update-kubeconfig`.
//!
//! Like the EKS plugin ([`super::eks`]) and the credential helper: stdout is one
//! `ExecCredential` JSON document and nothing else; errors go to stderr with a hint and an
//! exit code. The token is the cluster's bearer token itself (a GCP access token; an Entra
//! ID token for the AKS cluster's server application), so the warm path is one cache read
//! ([`crate::session::bearer`]) by the chain's `--key`: no YAML, no runtime, no network.
//! kubeconfigs run it through `atmos-auth-helper` ([`warm_from_args`]). Otherwise the
//! identity is resolved, and the token minted single flight, with a sign-in only when a
//! terminal is there (exit 77 at once otherwise).
//!
//! It must not print the token anywhere but stdout.

use super::Ctx;
use super::helper::{cold_resolution, is_key, with_prompts};
use crate::env_vars::{self as ev, Env};
use crate::error::Error;
use crate::identity::IdentityFlag;
use crate::session::bearer::{self, Kind};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `tfauth gcp ...`: GCP tools.
#[derive(Args, Debug)]
pub struct GcpArgs {
    #[command(subcommand)]
    pub command: GcpCommand,
}

#[derive(Subcommand, Debug)]
pub enum GcpCommand {
    /// GKE: kubeconfigs whose user is tfauth, and the tokens they ask for.
    Gke(GkeArgs),
}

#[derive(Args, Debug)]
pub struct GkeArgs {
    #[command(subcommand)]
    pub command: GkeCommand,
}

#[derive(Subcommand, Debug)]
pub enum GkeCommand {
    /// Print the GCP identity's access token as kubectl's ExecCredential JSON.
    Token(GkeTokenArgs),
    /// Write a gcp/gke integration's kubeconfig entry.
    UpdateKubeconfig(UpdateArgs),
}

/// `tfauth azure ...`: Azure tools.
#[derive(Args, Debug)]
pub struct AzureArgs {
    #[command(subcommand)]
    pub command: AzureCommand,
}

#[derive(Subcommand, Debug)]
pub enum AzureCommand {
    /// AKS: kubeconfigs whose user is tfauth, and the tokens they ask for.
    Aks(AksArgs),
}

#[derive(Args, Debug)]
pub struct AksArgs {
    #[command(subcommand)]
    pub command: AksCommand,
}

#[derive(Subcommand, Debug)]
pub enum AksCommand {
    /// Print an Entra ID token for an AKS cluster as kubectl's ExecCredential JSON.
    Token(AksTokenArgs),
    /// Write an azure/aks integration's kubeconfig entry.
    UpdateKubeconfig(UpdateArgs),
}

/// How a plugin finds its identity: the flags every kubeconfig plugin tfauth writes takes.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginFlags {
    /// The identity whose token it is (default: ATMOS_IDENTITY, else the default identity).
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
    /// The refresh margin configured in atmos.yaml (`auth.refresh_margin`; read for the
    /// words' sake: these tokens are handed out with five minutes left).
    #[arg(long)]
    pub margin: Option<String>,
}

/// Print the GCP identity's access token as kubectl's ExecCredential JSON.
///
/// What gke-gcloud-auth-plugin does, from the identity's chain (workload identity
/// federation or your application-default login, impersonating its service account).
/// One JSON document on stdout, nothing else; errors on stderr.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(after_long_help = "\
Examples:
  # What a kubeconfig written by tfauth runs (kubectl reads the JSON on stdout)
  tfauth gcp gke token --identity dev/gke")]
pub struct GkeTokenArgs {
    #[command(flatten)]
    pub flags: PluginFlags,
}

/// Print an Entra ID token for an AKS cluster as kubectl's ExecCredential JSON.
///
/// The token is for the cluster's server application (`--server-id`, AKS's by default),
/// asked with the identity's sign-in (azure/device-code, azure/interactive) or federated
/// token (azure/oidc), as kubelogin does. One JSON document on stdout, nothing else.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(after_long_help = "\
Examples:
  # What a kubeconfig written by tfauth runs
  tfauth azure aks token --cluster-name dev --resource-group rg-dev --identity plat/dev")]
pub struct AksTokenArgs {
    /// The cluster's name (the kubeconfig's reader sees which cluster; the token is the server application's).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The cluster's resource group (likewise, not used for the token).
    #[arg(long, value_name = "GROUP")]
    pub resource_group: Option<String>,
    /// The Entra ID server application the cluster accepts tokens for.
    #[arg(long, value_name = "APP_ID", default_value = crate::providers::aks::AKS_SERVER_APP_ID)]
    pub server_id: String,
    /// The cluster's subscription (likewise, not used for the token).
    #[arg(long, value_name = "ID")]
    pub subscription_id: Option<String>,
    #[command(flatten)]
    pub flags: PluginFlags,
}

/// Write a Kubernetes integration's kubeconfig entry, where its spec says (default
/// `<config dir>/atmos/kube/config`, as Atmos) or into `--kubeconfig`.
#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # An integration of atmos.yaml, where it says (default ~/.config/atmos/kube/config)
  tfauth azure aks update-kubeconfig --integration dev-aks
  tfauth gcp gke update-kubeconfig --integration dev-gke --kubeconfig ~/.kube/config")]
pub struct UpdateArgs {
    /// The integration (a name under `auth.integrations`).
    #[arg(long, value_name = "NAME")]
    pub integration: String,
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

/// A plugin's request: which cache, and the audience within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plugin {
    pub kind: Kind,
    /// The AKS server application (its token's audience); `None` for GKE.
    pub audience: Option<String>,
    pub flags: PluginFlags,
}

impl From<&GkeTokenArgs> for Plugin {
    fn from(a: &GkeTokenArgs) -> Plugin {
        Plugin { kind: Kind::Gke, audience: None, flags: a.flags.clone() }
    }
}

impl From<&AksTokenArgs> for Plugin {
    fn from(a: &AksTokenArgs) -> Plugin {
        Plugin { kind: Kind::Aks, audience: Some(a.server_id.clone()), flags: a.flags.clone() }
    }
}

pub fn run_gcp(args: GcpArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        GcpCommand::Gke(GkeArgs { command: GkeCommand::Token(t) }) => {
            let doc = token(&Plugin::from(&t), &ctx.env, ctx.cwd.clone())?;
            Ok(super::eks::print(&doc))
        }
        GcpCommand::Gke(GkeArgs { command: GkeCommand::UpdateKubeconfig(u) }) => {
            super::eks::update_integration(&u.integration, "gcp/gke", u.kubeconfig, u.component, u.stack, ctx)
        }
    }
}

pub fn run_azure(args: AzureArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        AzureCommand::Aks(AksArgs { command: AksCommand::Token(t) }) => {
            let doc = token(&Plugin::from(&t), &ctx.env, ctx.cwd.clone())?;
            Ok(super::eks::print(&doc))
        }
        AzureCommand::Aks(AksArgs { command: AksCommand::UpdateKubeconfig(u) }) => {
            super::eks::update_integration(&u.integration, "azure/aks", u.kubeconfig, u.component, u.stack, ctx)
        }
    }
}

/// The words kubeconfigs run the two plugins with (after the binary's name).
pub const GKE_WORDS: [&str; 3] = ["gcp", "gke", "token"];
pub const AKS_WORDS: [&str; 3] = ["azure", "aks", "token"];

/// `tfauth gcp gke token ARGS...` or `tfauth azure aks token ARGS...`, run straight from
/// the binary's entry point: only the plugin's own parser, and logging set up only on the
/// cold path. Returns the exit code.
pub fn token_main(kind: Kind, args: impl Iterator<Item = std::ffi::OsString>) -> i32 {
    use clap::FromArgMatches;
    let (name, cmd) = match kind {
        Kind::Gke => ("tfauth gcp gke token", GkeTokenArgs::augment_args(clap::Command::new("tfauth gcp gke token"))),
        Kind::Aks => {
            ("tfauth azure aks token", AksTokenArgs::augment_args(clap::Command::new("tfauth azure aks token")))
        }
    };
    let cmd = cmd.version(env!("CARGO_PKG_VERSION"));
    let parsed = cmd.try_get_matches_from(std::iter::once(name.into()).chain(args)).and_then(|m| match kind {
        Kind::Gke => GkeTokenArgs::from_arg_matches(&m).map(|a| Plugin::from(&a)),
        Kind::Aks => AksTokenArgs::from_arg_matches(&m).map(|a| Plugin::from(&a)),
    });
    let plugin = match parsed {
        Ok(p) => p,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return 0;
            }
            eprint!("{}", e.render());
            return crate::exit::USAGE;
        }
    };
    let env = Env::capture();
    crate::util::dirs::trust_home(&env);
    let doc = match warm(&plugin, &env) {
        Some(doc) => Ok(doc),
        None => {
            crate::util::logging::init(None, &env, true);
            let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
            cold(&plugin, &env, cwd)
        }
    };
    match doc {
        Ok(doc) => super::eks::print(&doc),
        Err(e) => {
            eprint!("{}", crate::error::render(&e, e.hint().as_deref()));
            e.exit_code()
        }
    }
}

/// The warm path for `atmos-auth-helper gcp gke token ...` and `... azure aks token ...`:
/// the ExecCredential when the words are the ones tfauth writes and the cache has a usable
/// token; `None` sends the caller to `tfauth` with the same words (clap's parser there
/// also reports what is wrong with them).
pub fn warm_from_args(kind: Kind, args: impl Iterator<Item = std::ffi::OsString>) -> Option<String> {
    let plugin = plugin_words(kind, args)?;
    let env = Env::capture_only(WARM_VARS);
    crate::util::dirs::trust_home(&env);
    warm(&plugin, &env)
}

/// Every variable [`warm`] reads: where the cache is.
pub const WARM_VARS: &[&str] = &[ev::HOME, ev::XDG_CACHE_HOME, ev::ATMOS_XDG_CACHE_HOME];

/// The plugin's flags as `--flag VALUE`, `--flag=VALUE` or `-i VALUE`; `None` for anything
/// else (an unknown flag, a missing value, a word that is not UTF-8), which goes to clap.
pub fn plugin_words(kind: Kind, args: impl Iterator<Item = std::ffi::OsString>) -> Option<Plugin> {
    let mut p = Plugin {
        kind,
        audience: (kind == Kind::Aks).then(|| crate::providers::aks::AKS_SERVER_APP_ID.to_string()),
        flags: PluginFlags::default(),
    };
    for (flag, value) in super::helper::flag_pairs(args)? {
        let f = &mut p.flags;
        match (kind, flag.as_str()) {
            (_, "-i" | "--identity") => f.identity = Some(value),
            (_, "--config") => f.config = Some(value.into()),
            (_, "--profile") => f.profile = Some(value),
            (_, "--stack") => f.stack = Some(value),
            (_, "--component") => f.component = Some(value),
            (_, "--key") => f.key = Some(value),
            (_, "--margin") => f.margin = Some(value),
            (Kind::Aks, "--server-id") => p.audience = Some(value),
            (Kind::Aks, "--cluster-name" | "--resource-group" | "--subscription-id") => {}
            _ => return None,
        }
    }
    Some(p)
}

/// The ExecCredential for the plugin, warm or cold.
pub fn token(p: &Plugin, env: &Env, cwd: PathBuf) -> Result<String, Error> {
    match warm(p, env) {
        Some(doc) => Ok(doc),
        None => cold(p, env, cwd),
    }
}

/// The warm path: a usable token in the cache entry of `--key` (and the audience).
pub fn warm(p: &Plugin, env: &Env) -> Option<String> {
    let key = p.flags.key.as_deref().filter(|k| is_key(k))?;
    let b = bearer::cached(env, p.kind, &bearer::entry_key(key, p.audience.as_deref()))?;
    Some(crate::providers::eks::exec_credential_of(&b.token, b.expires))
}

/// The cold path: resolve the identity, mint its token single flight, cache it.
pub fn cold(p: &Plugin, env: &Env, cwd: PathBuf) -> Result<String, Error> {
    let f = &p.flags;
    let named = f.identity.clone().or_else(|| env.get(ev::ATMOS_IDENTITY).filter(|v| !v.is_empty()).map(String::from));
    let req = crate::resolve::Request {
        cwd,
        config_file: f.config.clone(),
        profiles: f.profile.iter().cloned().collect(),
        stack: f.stack.clone(),
        component: f.component.clone(),
        identity: match &named {
            Some(n) => IdentityFlag::Named(n.clone()),
            None => IdentityFlag::Absent,
        },
        describe: false,
    };
    let (res, chain) = cold_resolution(named.as_deref().unwrap_or("(default)"), req, env)?;
    let who = chain.leaf().name.clone();
    let cloud = chain.leaf().cloud();
    let want = match p.kind {
        Kind::Gke => crate::auth::Cloud::Gcp,
        Kind::Aks => crate::auth::Cloud::Azure,
    };
    if cloud != Some(want) {
        let a = if want == crate::auth::Cloud::Azure { "an Azure" } else { "a GCP" };
        return Err(Error::usage(
            format!("identity `{who}` is {}, not {a} identity", chain.leaf().kind_name),
            Some(format!(
                "pass the {want} identity the cluster's integration names (`tfauth auth list --integrations`)"
            )),
        ));
    }
    let key = bearer::entry_key(&crate::session::cache::key::chain_key(&res.auth_node, &chain), p.audience.as_deref());
    let b = bearer::obtain(env, p.kind, &key, &who, || match p.kind {
        Kind::Gke => crate::logins::gke_token(&chain, env),
        Kind::Aks => {
            let scope =
                format!("{}/.default", p.audience.as_deref().unwrap_or(crate::providers::aks::AKS_SERVER_APP_ID));
            let (token, expires) =
                with_prompts(env, |ask| crate::session::azure::token_for(&chain, env, ask.device, &scope))?;
            // Entra ID always says; should it not, a token is assumed good for half its usual hour.
            let expires = expires.unwrap_or_else(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(30));
            Ok(bearer::Bearer { token, expires })
        }
    })?;
    Ok(crate::providers::eks::exec_credential_of(&b.token, b.expires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn words(w: &[&str]) -> impl Iterator<Item = OsString> {
        w.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    fn clap_of<T: clap::Args + clap::FromArgMatches>(w: &[&str]) -> Option<T> {
        let cmd = T::augment_args(clap::Command::new("t"));
        let m = cmd.try_get_matches_from(std::iter::once("t").chain(w.iter().copied())).ok()?;
        T::from_arg_matches(&m).ok()
    }

    const TAIL: [&str; 12] = [
        "--identity",
        "plat/dev",
        "--config",
        "/r/atmos.yaml",
        "--profile",
        "ci",
        "--stack",
        "plat-dev",
        "--component",
        "app",
        "--key",
        "0123456789abcdef0123456789abcdef",
    ];

    #[test]
    fn the_warm_parser_reads_what_kubeconfigs_pass_as_clap_does_and_nothing_else() {
        let ours = plugin_words(Kind::Gke, words(&TAIL)).unwrap();
        let theirs: GkeTokenArgs = clap_of(&TAIL).unwrap();
        assert_eq!(ours, Plugin::from(&theirs));
        let aks: Vec<&str> =
            ["--cluster-name", "dev", "--resource-group", "rg", "--server-id", "abc", "--subscription-id", "s"]
                .into_iter()
                .chain(TAIL)
                .collect();
        let ours = plugin_words(Kind::Aks, words(&aks)).unwrap();
        let theirs: AksTokenArgs = clap_of(&aks).unwrap();
        assert_eq!(ours, Plugin::from(&theirs));
        assert_eq!(ours.audience.as_deref(), Some("abc"));
        // Without --server-id, AKS's server application, as clap's default.
        let plain = plugin_words(Kind::Aks, words(&["-i", "x"])).unwrap();
        assert_eq!(plain, Plugin::from(&clap_of::<AksTokenArgs>(&["-i", "x"]).unwrap()));
        for w in [&["--cluster-name", "dev"][..], &["--verbose"][..], &["-i"][..], &["--help", "x"][..]] {
            assert!(plugin_words(Kind::Gke, words(w)).is_none(), "{w:?} goes to clap");
        }
    }
}

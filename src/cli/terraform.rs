//! `tfauth <terraform subcommand> [COMPONENT -s STACK] [terraform args...]`.
//!
//! tfauth's own flags (`-s/--stack`, `-i/--identity`, `--profile`, `--dry-run`,
//! `--static-credentials`, and for a stack run `--skip-init`, `--force`, `--from-plan`,
//! `--planfile`, `--skip-planfile`) are taken out wherever they appear before `--`; the
//! first other word is the component (after a second subcommand word, as in
//! `workspace list`); everything else goes to terraform in its original order. Without a
//! stack, the call passes straight through to the real terraform (never to tfauth itself).
//!
//! A stack run: resolve → [`crate::run::plan`] (files, steps, command) → lock the
//! component directory ([`crate::run::lock`]) → authenticate → write the files → run init
//! and the workspace selection → exec terraform with `TF_WORKSPACE`, which inherits the
//! lock and holds it until it exits. `--dry-run` and a passthrough take no lock.

use super::{Ctx, identity_flag};
use crate::error::Error;
use crate::exec::{ChildEnv, ExecError, find_terraform};
use crate::identity::{IdentityFlag, Selection};
use crate::output::describe::selection_text;
use crate::output::env::EnvPlan;
use crate::resolve::{Request, Resolution, resolve};
use crate::run::{RunOptions, RunPlan};
use crate::stacks::StackError;
use crate::yaml::{Span, display_path};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The words of a terraform call, with tfauth's flags taken out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TfArgs {
    /// One word, or two for `workspace list`, `state show` and the like.
    pub subcommand: Vec<String>,
    pub component: Option<String>,
    pub stack: Option<String>,
    pub identity: IdentityFlag,
    pub profiles: Vec<String>,
    pub dry_run: bool,
    /// Write session keys into the credentials file instead of `credential_process`.
    pub static_credentials: bool,
    /// `--no-browser`: show the IAM Identity Center login URL without opening it.
    pub no_browser: bool,
    /// `--skip-init`, `--force`, `--from-plan`, `--planfile`, `--skip-planfile`.
    pub run: RunOptions,
    /// `-help`, `-h` or `--help` before `--`.
    pub help: bool,
    /// For terraform, in order.
    pub rest: Vec<OsString>,
}

/// Splits the words after `tfauth`.
pub fn parse(args: &[OsString]) -> Result<TfArgs, Error> {
    let mut out = TfArgs::default();
    let Some((sub, rest)) = args.split_first() else {
        return Err(Error::usage("no terraform subcommand given", Some("tfauth plan COMPONENT -s STACK".to_string())));
    };
    out.subcommand = vec![sub.to_string_lossy().into_owned()];
    let mut i = 0;
    let value = |i: &mut usize, flag: &str| -> Result<String, Error> {
        *i += 1;
        rest.get(*i)
            .and_then(|v| v.to_str())
            .map(str::to_string)
            .ok_or_else(|| Error::usage(format!("`{flag}` needs a value"), Some(format!("write `{flag} VALUE`"))))
    };
    while i < rest.len() {
        let arg = &rest[i];
        let Some(s) = arg.to_str() else {
            out.rest.push(arg.clone());
            i += 1;
            continue;
        };
        match s {
            "--" => {
                out.rest.extend(rest[i + 1..].iter().cloned());
                break;
            }
            "-help" | "-h" | "--help" => {
                out.help = true;
                out.rest.push(arg.clone());
            }
            "-s" | "--stack" => out.stack = Some(value(&mut i, s)?),
            "--profile" => out.profiles.push(value(&mut i, s)?),
            "--dry-run" => out.dry_run = true,
            "--static-credentials" => out.static_credentials = true,
            "--no-browser" => out.no_browser = true,
            "--skip-init" => out.run.skip_init = true,
            "--force" => out.run.force = true,
            "--from-plan" | "-from-plan" => out.run.from_plan = true,
            "--skip-planfile" => out.run.skip_planfile = true,
            "--planfile" => out.run.planfile = Some(value(&mut i, s)?),
            "-i" | "--identity" => {
                // `--identity NAME` or a bare `--identity` (ask).
                match rest.get(i + 1).and_then(|v| v.to_str()) {
                    Some(v) if !v.starts_with('-') && out.component.is_some() => {
                        out.identity = identity_flag(Some(v));
                        i += 1;
                    }
                    _ => out.identity = IdentityFlag::Ask,
                }
            }
            _ => {
                if let Some(v) = s.strip_prefix("--stack=").or_else(|| s.strip_prefix("-s=")) {
                    out.stack = Some(v.to_string());
                } else if let Some(v) = s.strip_prefix("--identity=").or_else(|| s.strip_prefix("-i=")) {
                    out.identity = identity_flag(Some(v));
                } else if let Some(v) = s.strip_prefix("--profile=") {
                    out.profiles.push(v.to_string());
                } else if let Some(v) = s.strip_prefix("--planfile=") {
                    out.run.planfile = Some(v.to_string());
                } else if out.component.is_none()
                    && out.subcommand.len() == 1
                    && crate::run::is_second_word(&out.subcommand[0], s)
                {
                    out.subcommand.push(s.to_string());
                } else if out.component.is_none() && !s.starts_with('-') {
                    out.component = Some(s.to_string());
                } else {
                    out.rest.push(arg.clone());
                }
            }
        }
        i += 1;
    }
    if let Some(s) = &out.stack
        && s.is_empty()
    {
        return Err(Error::usage("`--stack` is empty", Some("name a stack, e.g. `-s plat-use2-dev`".to_string())));
    }
    Ok(out)
}

pub fn run(args: Vec<OsString>, ctx: &Ctx) -> Result<i32, Error> {
    let mut tf = parse(&args)?;
    let more = super::settings::Flags {
        profiles: std::mem::take(&mut tf.profiles),
        no_browser: tf.no_browser,
        ..Default::default()
    };
    let with_flag = Ctx { settings: ctx.settings.with(&more), ..ctx.clone() };
    let ctx = &with_flag;
    let profiles = ctx.settings.profiles.clone();
    if tf.stack.is_some() && tf.help {
        // Before anything is read or signed in to: help is asked for, not a run.
        return stack_help(&tf, ctx);
    }
    let Some(stack) = tf.stack.clone() else {
        return passthrough(&args, &tf, ctx);
    };
    check_subcommand(&tf, &stack)?;
    let Some(component) = tf.component.clone() else {
        return Err(Error::usage(
            format!("`tfauth {} -s {stack}` needs a component", tf.subcommand.join(" ")),
            Some(format!("tfauth {} COMPONENT -s {stack}", tf.subcommand.join(" "))),
        ));
    };
    let req = Request {
        cwd: ctx.cwd.clone(),
        config_file: None,
        profiles: profiles.clone(),
        stack: Some(stack),
        component: Some(component),
        identity: tf.identity.clone(),
        describe: false,
    };
    let prompt = ctx.prompt();
    let res = resolve(&req, &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    let comp = res.component.as_ref().expect("a stack and component were resolved");
    if comp.is_abstract {
        return Err(StackError::Abstract {
            component: comp.component.clone(),
            stack: comp.stack.clone(),
            span: comp.metadata.get("type").map(|n| n.span.clone()).unwrap_or_else(Span::synthetic),
        }
        .into());
    }
    if !comp.terraform_dir.is_dir() {
        return Err(ExecError::NoComponentDir(comp.terraform_dir.clone()).into());
    }
    let run_plan = crate::run::plan(comp, &res.config.terraform, &tf.subcommand, &tf.rest, &tf.run, &ctx.env)?;
    for n in &run_plan.notes {
        tracing::info!("{n}");
    }
    let plan = super::env_plan(&res, ctx, &profiles)?;
    let terraform = find_terraform(comp.command.as_deref(), &ctx.env, ctx.self_exe.as_deref());

    if tf.dry_run {
        print!("{}", dry_run_text(&res, &plan, &run_plan, &tf.run, &terraform, &ctx.env));
        if plan.aws.is_some() && !ctx.helper_path().is_file() {
            print!("{}", missing_helper_note(&ctx.helper_path()));
        }
        return Ok(0);
    }
    // Refuse before anything else: a hand-written file is cheaper to report than a login.
    crate::run::files::check(&run_plan.files, tf.run.force)?;
    let terraform = terraform?;
    // One run at a time in this directory, from before the files are written until the
    // exec'd terraform exits. Taken before authenticating, so a run that waited gets its
    // credentials (static ones included) when it starts, and writes no config while the
    // other run's terraform reads it.
    let lock = if run_plan.needs_lock() {
        Some(crate::run::lock::DirLock::acquire(&ctx.env, &run_plan.dir, &comp.stack)?)
    } else {
        None
    };
    let auth_plan = match &res.selection {
        Selection::Identity { name, .. } => Some(super::authenticate(&res, plan, name, tf.static_credentials, ctx)?),
        Selection::Disabled { .. } | Selection::NoneConfigured | Selection::Unresolved { .. } => None,
    };
    let (child_env, lost) =
        auth_plan.as_ref().map(|p| p.child_env(&ctx.env)).unwrap_or_default().with_component_env(&run_plan.env);
    for k in lost {
        tracing::warn!("`env.{k}` of component `{}` is ignored: the identity's credentials set {k}", comp.component);
    }
    let child_env = child_env.running_terraform(&terraform, &ctx.env);
    crate::run::files::write_all(&run_plan.files, tf.run.force)?;
    if let Some(code) = crate::run::steps::run(&terraform, &run_plan.steps, &run_plan.dir, &child_env)? {
        return Ok(code);
    }
    let command_env = run_plan.command_env(&child_env);
    if let Some(lock) = &lock {
        // The lock's descriptor stays open across the exec: terraform holds the lock
        // until it exits, and the OS releases it then.
        let fd = lock
            .keep_across_exec()
            .map_err(|source| crate::run::RunError::Write { path: lock.path().to_path_buf(), source })?;
        tracing::debug!("terraform inherits the lock {} as fd {fd}", lock.path().display());
    }
    crate::exec::exec(terraform, &run_plan.command, &run_plan.dir, &command_env)
}

/// No stack: run the real terraform with the same words, in the same directory.
fn passthrough(args: &[OsString], tf: &TfArgs, ctx: &Ctx) -> Result<i32, Error> {
    let terraform = find_terraform(None, &ctx.env, ctx.self_exe.as_deref());
    let forwarded: Vec<OsString> =
        args.iter().filter(|a| !matches!(a.to_str(), Some("--dry-run" | "--no-browser"))).cloned().collect();
    let wants_auth = match &tf.identity {
        IdentityFlag::Absent => {
            ctx.env.get(crate::env_vars::ATMOS_IDENTITY).is_some_and(|v| !crate::env_vars::is_identity_disabled(v))
        }
        IdentityFlag::Named(v) => !crate::env_vars::is_identity_disabled(v),
        IdentityFlag::Ask => true,
    };
    if !tf.dry_run && matches!(tf.subcommand[0].as_str(), "version" | "-version") {
        return version(&forwarded, terraform, ctx);
    }
    if tf.dry_run {
        let mut out = String::from(
            "Dry run: no credentials or config files were written, and nothing was run.\n\nNo stack given: the call passes straight through.\n\n",
        );
        out.push_str(&command_text(&terraform, &forwarded, &ctx.cwd));
        print!("{out}");
        return Ok(0);
    }
    if wants_auth {
        // An identity without a stack: atmos.yaml's (and the profile's) auth.
        let req = Request {
            cwd: ctx.cwd.clone(),
            config_file: None,
            profiles: ctx.settings.profiles.clone(),
            stack: None,
            component: None,
            identity: tf.identity.clone(),
            describe: false,
        };
        let prompt = ctx.prompt();
        let res = resolve(&req, &ctx.env, prompt.as_ref().map(|p| p as _))?;
        if let Selection::Identity { name, .. } = &res.selection {
            let plan = super::env_plan(&res, ctx, &req.profiles)?;
            let plan = super::authenticate(&res, plan, name, tf.static_credentials, ctx)?;
            let argv: Vec<OsString> = tf.subcommand.iter().map(OsString::from).chain(tf.rest.iter().cloned()).collect();
            let terraform = terraform?;
            let child_env = plan.child_env(&ctx.env).running_terraform(&terraform, &ctx.env);
            return crate::exec::exec(terraform, &argv, &ctx.cwd, &child_env);
        }
    }
    if let Some(h) = component_hint(tf, ctx) {
        tracing::warn!("{h}");
    }
    let terraform = terraform?;
    let child_env = ChildEnv::default().running_terraform(&terraform, &ctx.env);
    crate::exec::exec(terraform, &forwarded, &ctx.cwd, &child_env)
}

/// `tfauth version`: tfauth's own version on stderr, then terraform's, exec'd as it is, so
/// stdout is terraform's alone (tools read its first line, or its JSON with `-json`) and a
/// wrapper that execs tfauth is still recognised.
fn version(argv: &[OsString], terraform: Result<PathBuf, ExecError>, ctx: &Ctx) -> Result<i32, Error> {
    eprintln!("tfauth v{}", env!("CARGO_PKG_VERSION"));
    let terraform = terraform?;
    let child_env = ChildEnv::default().running_terraform(&terraform, &ctx.env);
    crate::exec::exec(terraform, argv, &ctx.cwd, &child_env)
}

fn command_text(terraform: &Result<PathBuf, ExecError>, argv: &[OsString], dir: &Path) -> String {
    format!(
        "command:\n  cd {}\n  {}\n",
        crate::output::env::shell_quote(&dir.display().to_string()),
        words(terraform, argv)
    )
}

/// The command line as it would run; when no terraform was found, `terraform` and why, as a
/// comment after the words (so the line still reads as the command).
fn words(terraform: &Result<PathBuf, ExecError>, argv: &[OsString]) -> String {
    let words: Vec<String> = argv.iter().map(|a| crate::output::env::shell_quote(&a.to_string_lossy())).collect();
    match terraform {
        Ok(p) => format!("{} {}", crate::output::env::shell_quote(&p.display().to_string()), words.join(" ")),
        Err(e) => format!("terraform {}  # {e}", words.join(" ")),
    }
}

/// The dry run's word on a helper that is not there: the AWS config names it, so terraform's
/// provider would fail to get keys (`cargo run` builds only `tfauth`).
pub(crate) fn missing_helper_note(helper: &Path) -> String {
    format!(
        "\nnote: {} does not exist, and the AWS config above runs it for credentials: terraform would fail to get them\n  hint: build both binaries (`cargo build --release --bins`), or install them together (`cargo install --locked --path .`)\n",
        helper.display()
    )
}

/// A stack run's subcommand must be terraform's (or Atmos's `deploy`): a typo would
/// otherwise reach terraform only after the files, the init and the sign-in.
fn check_subcommand(tf: &TfArgs, stack: &str) -> Result<(), Error> {
    let sub = tf.subcommand.first().map(String::as_str).unwrap_or("");
    if crate::run::SUBCOMMANDS.contains(&sub) {
        return Ok(());
    }
    let near =
        crate::util::suggest::nearest(sub, crate::run::SUBCOMMANDS.iter().copied().filter(|s| !s.starts_with('-')));
    let component = tf.component.as_deref().unwrap_or("COMPONENT");
    let hint = match near.first() {
        Some(n) => format!("did you mean `tfauth {n} {component} -s {stack}`?"),
        None => format!(
            "terraform's subcommands: {}",
            crate::run::SUBCOMMANDS.iter().filter(|s| !s.starts_with('-')).copied().collect::<Vec<_>>().join(", ")
        ),
    };
    Err(Error::usage(format!("`{sub}` is not a terraform subcommand"), Some(hint)))
}

/// `tfauth SUBCOMMAND COMPONENT -s STACK --help`: tfauth's run flags, then terraform's own
/// help for the subcommand. Nothing is resolved, written or signed in to.
fn stack_help(tf: &TfArgs, ctx: &Ctx) -> Result<i32, Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}\n", super::RUN_HELP.trim_end());
    let _ = out.flush();
    drop(out);
    let sub: Vec<OsString> = tf.subcommand.iter().map(OsString::from).collect();
    let terraform = find_terraform(None, &ctx.env, ctx.self_exe.as_deref());
    match terraform {
        Ok(t) if crate::run::SUBCOMMANDS.contains(&tf.subcommand[0].as_str()) => {
            println!("{}'s own help for `{}`:\n", t.display(), tf.subcommand.join(" "));
            let argv: Vec<OsString> = sub.into_iter().chain([OsString::from("-help")]).collect();
            let child_env = ChildEnv::default().running_terraform(&t, &ctx.env);
            crate::exec::exec(t, &argv, &ctx.cwd, &child_env)
        }
        Ok(_) => Ok(0),
        Err(e) => {
            println!("(terraform's own help is not shown: {e})");
            Ok(0)
        }
    }
}

/// A passthrough whose first word names a component of this repository: terraform would
/// take it for a directory or a plan and fail with "Too many command line arguments"; say
/// what was probably meant. A cheap look (one directory), never the stacks.
fn component_hint(tf: &TfArgs, ctx: &Ctx) -> Option<String> {
    let word = tf.component.as_deref()?;
    if ctx.cwd.join(word).exists() || word.contains("..") {
        return None;
    }
    let opts = crate::config::ConfigOptions { cwd: ctx.cwd.clone(), profiles: ctx.settings.profiles.clone() };
    let cfg = crate::config::load(&opts, &ctx.env).ok()?;
    cfg.terraform.base_path.join(word).is_dir().then(|| {
        format!(
            "`{word}` is a component of this repository, and no stack was given, so terraform gets the words as they are\n  hint: to run it in a stack: `tfauth {} {word} -s STACK` (`tfauth list stacks -c {word}` lists them)",
            tf.subcommand.join(" ")
        )
    })
}

fn dry_run_text(
    res: &Resolution,
    plan: &EnvPlan,
    run: &RunPlan,
    opts: &RunOptions,
    terraform: &Result<PathBuf, ExecError>,
    env: &crate::env_vars::Env,
) -> String {
    let comp = res.component.as_ref().expect("resolved component");
    let mut out = String::from("Dry run: no credentials or config files were written, and nothing was run.\n\n");
    out.push_str(&format!("stack:      {}  ({})\n", comp.stack, display_path(&comp.stack_file)));
    out.push_str(&format!("component:  {}  (terraform component {})\n", comp.component, comp.terraform_component));
    let (name, by) = selection_text(&res.selection);
    match name {
        Some(n) => out.push_str(&format!("identity:   {n}  ({by})\n")),
        None => out.push_str(&format!("identity:   none  ({by})\n")),
    }
    if let Some(chain) = &res.chain {
        out.push_str(&format!("chain:      {}\n", chain.describe()));
    }
    for extra in &res.required {
        out.push_str(&format!("also:       {}  (required: true)\n", extra.leaf().name));
        out.push_str(&format!("chain:      {}\n", extra.describe()));
    }
    if let Some(ws) = &run.workspace {
        out.push_str(&format!("workspace:  {ws}\n"));
    }
    out.push_str(&format!(
        "\ncommands, in order, in {}:\n",
        crate::output::env::shell_quote(&run.dir.display().to_string())
    ));
    let mut n = 0;
    for step in &run.steps {
        n += 1;
        out.push_str(&format!("  {n}. {}\n", words(terraform, &step.argv)));
        if let Some(otherwise) = &step.otherwise {
            out.push_str(&format!("     if that fails: {}\n", words(terraform, otherwise)));
        }
    }
    out.push_str(&format!("  {}. {}   (exec)\n", n + 1, words(terraform, &run.command)));
    if let Some(ws) = &run.workspace {
        out.push_str(&format!("     with TF_WORKSPACE={ws}\n"));
    }
    if run.needs_lock()
        && let Ok(lock) = crate::run::lock::lock_path(env, &run.dir)
    {
        out.push_str(&format!(
            "  lock: {} (one run at a time in this directory: from the files until terraform exits)\n",
            lock.display()
        ));
    }
    for note in &run.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    if !run.env.is_empty() {
        out.push_str("\ncomponent environment (env:):\n");
        for (k, v) in &run.env {
            let shown = if crate::secret::is_secret_key(k) { "<redacted>" } else { v.as_str() };
            out.push_str(&format!("  {k}={shown}\n"));
        }
    }
    if !run.files.is_empty() {
        out.push_str("\nfiles generated in the component directory:\n");
        for f in &run.files {
            let d = crate::run::files::disposition(f, opts.force);
            out.push_str(&format!("  {}  ({}, mode {:04o}, {})\n", f.path.display(), f.what, f.mode, d.describe()));
            // Vars under secret-looking keys are shown redacted; the file gets the values.
            let shown = if f.what == "varfile" {
                let redacted = crate::yaml::emit::to_json(&crate::output::describe::redact(&comp.vars));
                serde_json::to_string_pretty(&redacted).unwrap_or_default()
            } else {
                f.contents.clone()
            };
            for line in shown.lines() {
                out.push_str(&format!("    | {line}\n"));
            }
        }
    }
    if !plan.set.is_empty() {
        out.push_str("\nenvironment set:\n");
        for k in plan.set.keys() {
            out.push_str(&format!("  {k}={}\n", plan.shown(k)));
        }
    }
    if !plan.clear.is_empty() || !plan.clear_prefixes.is_empty() {
        out.push_str("\nenvironment cleared:\n");
        let now = plan.cleared_in(env);
        for k in &plan.clear {
            let mark = if now.contains(k) { "  (set now)" } else { "" };
            out.push_str(&format!("  {k}{mark}\n"));
        }
        for p in &plan.clear_prefixes {
            let n = now.iter().filter(|k| k.starts_with(p.as_str()) && !plan.clear.contains(k)).count();
            out.push_str(&format!("  {p}*{}\n", if n > 0 { format!("  ({n} set now)") } else { String::new() }));
        }
    }
    if !plan.files.is_empty() {
        out.push_str("\nfiles written (mode 0600, directories 0700):\n");
        for f in &plan.files {
            out.push_str(&format!("  {}\n", f.path.display()));
            for line in f.shown().lines() {
                out.push_str(&format!("    | {line}\n"));
            }
        }
    }
    for n in &plan.notes {
        out.push_str(&format!("\nnote: {n}\n"));
    }
    if matches!(res.selection, Selection::Disabled { .. } | Selection::NoneConfigured | Selection::Unresolved { .. }) {
        out.push_str("\nThe environment is passed to terraform as it is.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn flags_anywhere_rest_in_order() {
        let a = parse(&words("plan vpc -out=p -s plat-use2-dev -var x=1 --dry-run -- -s literal")).unwrap();
        assert_eq!(a.subcommand, ["plan"]);
        assert_eq!(a.component.as_deref(), Some("vpc"));
        assert_eq!(a.stack.as_deref(), Some("plat-use2-dev"));
        assert!(a.dry_run);
        assert_eq!(a.rest, words("-out=p -var x=1 -s literal"));
    }

    #[test]
    fn identity_forms() {
        assert_eq!(
            parse(&words("plan vpc --identity=acme/admin")).unwrap().identity,
            IdentityFlag::Named("acme/admin".into())
        );
        assert_eq!(parse(&words("plan vpc -i acme/admin")).unwrap().identity, IdentityFlag::Named("acme/admin".into()));
        assert_eq!(parse(&words("plan vpc --identity -s x")).unwrap().identity, IdentityFlag::Ask);
        assert_eq!(parse(&words("plan --identity=false vpc")).unwrap().component.as_deref(), Some("vpc"));
        assert_eq!(parse(&words("plan vpc --stack=s1")).unwrap().stack.as_deref(), Some("s1"));
    }

    #[test]
    fn two_word_subcommands_and_run_flags() {
        let a = parse(&words("workspace list app -s s1 --skip-init")).unwrap();
        assert_eq!(a.subcommand, ["workspace", "list"]);
        assert_eq!(a.component.as_deref(), Some("app"));
        assert!(a.run.skip_init);
        let a = parse(&words("state show app -s s1 aws_s3_bucket.b")).unwrap();
        assert_eq!(a.subcommand, ["state", "show"]);
        assert_eq!(a.rest, words("aws_s3_bucket.b"));
        let a = parse(&words("apply app -s s1 -from-plan --force --planfile=p.plan --skip-planfile")).unwrap();
        assert_eq!(a.subcommand, ["apply"]);
        assert!(a.run.from_plan && a.run.force && a.run.skip_planfile);
        assert_eq!(a.run.planfile.as_deref(), Some("p.plan"));
        assert!(a.rest.is_empty());
        // A component named like a second word is still the component after `plan`.
        assert_eq!(parse(&words("plan list -s s1")).unwrap().component.as_deref(), Some("list"));
    }

    #[test]
    fn a_command_line_without_terraform_stays_whole() {
        let missing: Result<PathBuf, ExecError> =
            Err(ExecError::NotFound { wanted: vec!["terraform".into(), "tofu".into()], skipped_self: vec![] });
        let line = super::words(&missing, &words("init -reconfigure"));
        assert!(line.starts_with("terraform init -reconfigure  # "), "{line}");
        assert_eq!(
            super::words(&Ok(PathBuf::from("/opt/tf dir/terraform")), &words("plan")),
            "'/opt/tf dir/terraform' plan"
        );
    }

    #[test]
    fn help_before_the_separator_is_tfauths_to_answer() {
        for h in ["-help", "-h", "--help"] {
            let a = parse(&words(&format!("plan vpc -s s1 {h}"))).unwrap();
            assert!(a.help, "{h}");
        }
        assert!(!parse(&words("plan vpc -s s1 -- -help")).unwrap().help, "after `--` it is terraform's word");
    }

    #[test]
    fn missing_values_are_usage_errors() {
        assert!(parse(&words("plan vpc -s")).is_err());
        assert!(parse(&[]).is_err());
    }
}

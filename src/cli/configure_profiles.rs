//! `tfauth auth configure-profiles`: a profile per AWS identity in the user's own AWS
//! config, so every other AWS tool (the AWS CLI, boto3, granted, a plain `terraform` run
//! elsewhere) reaches the identity through `atmos-auth-helper`. The block is
//! [`crate::output::profiles`]'; this command reads the file, refuses one it cannot trust
//! (a `credential_process` line is a command the SDK runs), keeps a backup and replaces the
//! file atomically, 0600. It signs in to nothing.

use super::Ctx;
use crate::error::Error;
use crate::identity::RegionFrom;
use crate::output::profiles::{self, Profile};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
Examples:
  # A profile per identity of this repository in ~/.aws/config (or $AWS_CONFIG_FILE)
  tfauth auth configure-profiles
  aws sts get-caller-identity --profile plat-dev/terraform

  # See the block first; write it into another file
  tfauth auth configure-profiles --dry-run
  tfauth auth configure-profiles --file ~/.aws/config.d/acme")]
pub struct ConfigureProfilesArgs {
    /// The AWS config file to keep the block in (default: $AWS_CONFIG_FILE, else ~/.aws/config).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print the block that would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: ConfigureProfilesArgs, ctx: &Ctx) -> Result<i32, Error> {
    let req = ctx.request(&super::Target::default());
    let (cfg, _) = crate::resolve::load_component(&req, &ctx.env)?;
    let node = cfg.auth().cloned().unwrap_or_else(crate::yaml::Node::null);
    let (mut auth, _) = crate::identity::parse_auth(Some(&node));
    crate::session::portal::add_provisioned(&mut auth, &ctx.env);

    let file = match &args.file {
        Some(f) => crate::config::absolute(&ctx.cwd, f),
        None => match (ctx.env.get(crate::env_vars::AWS_CONFIG_FILE), ctx.env.get(crate::env_vars::HOME)) {
            (Some(f), _) if !f.is_empty() => crate::config::absolute(&ctx.cwd, std::path::Path::new(f)),
            (_, Some(h)) => PathBuf::from(h).join(".aws/config"),
            _ => {
                return Err(Error::usage(
                    "cannot tell where the AWS config is: HOME is not set",
                    Some("pass --file".into()),
                ));
            }
        },
    };
    let existing = read_trusted(&file)?;
    let config = cfg.file.display().to_string();
    let taken = profiles::names_outside(&existing, &config);
    let helper = ctx.helper_path().display().to_string();
    let applied: Vec<String> = cfg.profiles.iter().map(|p| p.name.clone()).collect();
    let mut entries = Vec::new();
    for id in &auth.identities {
        let Ok(chain) = crate::identity::chain::build(&auth, &id.name) else { continue };
        if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
            continue;
        }
        if taken.contains(&id.name) {
            tracing::warn!(
                "{}: not writing a profile for `{}`: {} already defines a profile of that name",
                id.span,
                id.name,
                file.display()
            );
            continue;
        }
        if let Err(why) = crate::output::ini::check_name(&id.name) {
            tracing::warn!("{}: identity `{}` cannot be an AWS profile name: {why}", id.span, id.name.escape_default());
            continue;
        }
        let region = match chain.aws_region(None) {
            (r, RegionFrom::Identity(_) | RegionFrom::Provider(_)) => Some(r.to_string()),
            _ => None,
        };
        entries.push(Profile {
            name: id.name.clone(),
            command: profiles::command(&helper, &id.name, &config, &applied),
            region,
        });
    }
    let block = profiles::block(&config, &entries).map_err(|(name, why)| {
        Error::usage(
            format!("cannot write the profile of `{}` into {}: {why}", name.escape_default(), file.display()),
            Some("tfauth never writes a value that could add a line to a config file: move the repository, or rename the identity or its region".into()),
        )
    })?;
    if args.dry_run {
        print!("{block}");
        eprintln!(
            "Dry run: {} profiles for {} would be kept in {}; nothing was written.",
            entries.len(),
            config,
            file.display()
        );
        return Ok(0);
    }
    let updated = profiles::splice(&existing, &config, &block);
    if updated == existing {
        eprintln!("{} is up to date: {} profiles for {config}.", file.display(), entries.len());
        return Ok(0);
    }
    let io = |path: &std::path::Path, source: std::io::Error| {
        Error::from(crate::session::cache::CacheError::Io { dir: path.to_path_buf(), source })
    };
    let backup = file.with_file_name(format!(
        "{}.tfauth-backup",
        file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    if file.exists() {
        crate::util::fs::replace_file_with_mode(&backup, existing.as_bytes(), 0o600).map_err(|e| io(&backup, e))?;
    }
    crate::util::fs::replace_file_with_mode(&file, updated.as_bytes(), 0o600).map_err(|e| io(&file, e))?;
    let kept = if file.exists() && !existing.is_empty() {
        format!(" (the previous file is {})", backup.display())
    } else {
        String::new()
    };
    eprintln!("Wrote {} profiles for {config} into {}{kept}.", entries.len(), file.display());
    Ok(0)
}

/// The file's text, `""` when there is none. One that someone else could have written (or
/// a link to such) is refused: the SDKs run its `credential_process` lines.
fn read_trusted(file: &std::path::Path) -> Result<String, Error> {
    if std::fs::symlink_metadata(file).is_err() {
        return Ok(String::new());
    }
    // A trust failure is exit 74 with the trust rule's own hint, as for tfauth's files.
    crate::util::fs::check_user_file(file)
        .map_err(|source| crate::session::cache::CacheError::Io { dir: file.to_path_buf(), source })?;
    use crate::util::fs::BoundedReadError as B;
    let bytes = crate::util::fs::read_regular(file, crate::util::fs::READ_CAP).map_err(|e| {
        let why = match e {
            B::Io(e) => e.to_string(),
            B::NotRegular(what) => format!("it is {what}, not a file"),
            B::TooLarge { size } => format!("it holds {size} bytes, more than an AWS config should"),
        };
        Error::usage(format!("cannot read {}: {why}", file.display()), None)
    })?;
    String::from_utf8(bytes).map_err(|_| Error::usage(format!("{} is not UTF-8 text", file.display()), None))
}

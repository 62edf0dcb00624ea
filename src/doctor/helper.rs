//! The helper check: every `credential_process` tfauth wrote still names a program that
//! exists and can run.
//!
//! Why it exists: after `cargo install` to another place, or a moved checkout, the profiles
//! written earlier point at a helper that is gone, and the AWS SDK's error says nothing of
//! it. It reads the written config files and never runs the programs they name.

use super::{Check, LIST_MAX, Realms};
use crate::env_vars::Env;
use crate::output::env::shell_quote;
use std::path::{Path, PathBuf};

/// The helper's file name, beside `tfauth`.
pub const HELPER_NAME: &str = "atmos-auth-helper";

/// One `credential_process` line of an AWS config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessLine {
    pub profile: String,
    pub command: String,
    /// 1-based.
    pub line: usize,
}

/// Every `credential_process` in an AWS config file, with its profile (`[profile NAME]`,
/// `[NAME]` or `[default]`).
pub fn credential_processes(text: &str) -> Vec<ProcessLine> {
    let mut profile = String::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            profile = section.strip_prefix("profile ").map_or(section, str::trim).to_string();
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("credential_process")
        {
            out.push(ProcessLine { profile: profile.clone(), command: value.trim().to_string(), line: i + 1 });
        }
    }
    out
}

/// The program of a command line as `sh` (and botocore's shlex) splits it: quotes and
/// backslashes resolved. `None` for an empty or unterminated command.
pub fn program_of(command: &str) -> Option<String> {
    shlex::split(command)?.into_iter().next()
}

/// Why a program cannot run, if it cannot.
fn not_runnable(program: &str, env: &Env) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        match std::env::split_paths(env.get(crate::env_vars::PATH).unwrap_or(""))
            .map(|d| d.join(program))
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Some(format!("`{program}` is not on PATH")),
        }
    };
    match std::fs::metadata(&path) {
        Err(_) => Some(format!("{} does not exist", path.display())),
        Ok(m) if !m.is_file() => Some(format!("{} is not a file", path.display())),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!("{} is not executable", path.display())),
        Ok(_) => None,
    }
}

/// The AWS config files tfauth wrote in the realm directories: `<realm>/aws/<root>/<h>/config`
/// (one content-addressed directory per distinct profile file), and `<realm>/aws/<root>/config`
/// where an older tfauth (or Atmos) wrote one.
fn aws_config_files(realms: &Realms) -> Vec<PathBuf> {
    // Only real directories and files: never a symlink out of the tree.
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let is_file = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    let mut out = Vec::new();
    for realm in &realms.dirs {
        let Ok(roots) = std::fs::read_dir(realm.join("aws")) else { continue };
        for root in roots.flatten().map(|e| e.path()).filter(|p| is_dir(p)) {
            if is_file(&root.join("config")) {
                out.push(root.join("config"));
            }
            let Ok(addressed) = std::fs::read_dir(&root) else { continue };
            for dir in addressed.flatten().map(|e| e.path()).filter(|p| is_dir(p)) {
                if is_file(&dir.join("config")) {
                    out.push(dir.join("config"));
                }
            }
        }
    }
    out.sort();
    out
}

/// Every `credential_process` in the AWS profiles tfauth wrote names a program that exists
/// and is executable (a moved or deleted helper breaks every terraform run that uses them).
/// `beside` is where tfauth writes profiles to find the helper: next to its own executable.
pub fn helper(realms: &Realms, beside: Option<&Path>, env: &Env) -> Check {
    const NAME: &str = "helper";
    if let Some(beside) = beside
        && !beside.is_file()
    {
        // Every profile tfauth writes would name it (`cargo run` builds only `tfauth`).
        return Check::fail(
            NAME,
            format!("{} does not exist: the AWS profiles tfauth writes run it for credentials", beside.display()),
            "build both binaries (`cargo build --release --bins`), or install them together (`cargo install --locked --path .`)"
                .to_string(),
        );
    }
    let files = aws_config_files(realms);
    let mut broken = Vec::new();
    let mut profiles = 0;
    let mut programs: Vec<String> = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            broken.push((String::new(), file.clone(), format!("{} cannot be read", file.display())));
            continue;
        };
        for p in credential_processes(&text) {
            profiles += 1;
            let why = match program_of(&p.command) {
                None => Some("the command is empty or its quotes are not closed".to_string()),
                Some(program) => {
                    let why = not_runnable(&program, env);
                    if why.is_none() && !programs.contains(&program) {
                        programs.push(program);
                    }
                    why
                }
            };
            if let Some(why) = why {
                broken.push((p.profile, file.clone(), why));
            }
        }
    }
    if broken.is_empty() {
        return match profiles {
            0 => Check::pass(NAME, format!("no profiles written yet ({})", realms.how)),
            n => Check::pass(NAME, format!("{n} profile(s) in {} file(s) run {}", files.len(), programs.join(", "))),
        };
    }
    let mut detail = format!("{} profile(s) cannot run their credential_process:", broken.len());
    for (profile, file, why) in broken.iter().take(LIST_MAX) {
        detail.push_str(&format!("\n- profile `{profile}` in {}: {why}", file.display()));
    }
    if broken.len() > LIST_MAX {
        detail.push_str(&format!("\n- and {} more", broken.len() - LIST_MAX));
    }
    let example = broken.iter().map(|b| b.0.as_str()).find(|p| !p.is_empty()).unwrap_or("NAME");
    Check::fail(
        NAME,
        detail,
        format!(
            "rewrite the profiles with the tfauth you use now: `tfauth auth env -i {}` (or the run that wrote them) \
             writes them again; or reinstall atmos-auth-helper next to tfauth",
            shell_quote(example)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn credential_process_lines_and_their_program() {
        let text = "# Written by tfauth\n[profile acme/network]\ncredential_process = /opt/bin/atmos-auth-helper --identity acme/network --config '/a b/atmos.yaml'\nregion = us-east-2\n\n[default]\n; credential_process = /commented\n  Credential_Process=\"/x y/helper\" -v\n[profile static]\nregion = us-east-1\n";
        let lines = credential_processes(text);
        assert_eq!(
            lines,
            [
                ProcessLine {
                    profile: "acme/network".into(),
                    command: "/opt/bin/atmos-auth-helper --identity acme/network --config '/a b/atmos.yaml'".into(),
                    line: 3
                },
                ProcessLine { profile: "default".into(), command: "\"/x y/helper\" -v".into(), line: 8 },
            ]
        );
        assert_eq!(program_of(&lines[0].command).as_deref(), Some("/opt/bin/atmos-auth-helper"));
        assert_eq!(program_of(&lines[1].command).as_deref(), Some("/x y/helper"));
        assert_eq!(program_of("'/it'\\''s/helper' --identity x").as_deref(), Some("/it's/helper"));
        assert_eq!(program_of("/a\\ b/c d").as_deref(), Some("/a b/c"));
        assert_eq!(program_of("\"/q\\\"/h\"").as_deref(), Some("/q\"/h"));
        assert_eq!(program_of("   "), None);
        assert_eq!(program_of("'/unterminated"), None);
        // What tfauth writes, read back.
        let written = shell_quote("/it's here/atmos-auth-helper");
        assert_eq!(program_of(&format!("{written} --identity a")).as_deref(), Some("/it's here/atmos-auth-helper"));
    }

    #[test]
    fn helper_reads_the_content_addressed_profile_directories() {
        let t = tempfile::tempdir().unwrap();
        let realm = t.path().join("realm");
        let (old, new) = (realm.join("aws/acme-sso"), realm.join("aws/acme-sso/0123456789abcdef"));
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(old.join("config"), "[profile a]\ncredential_process = /gone/a --identity a\n").unwrap();
        std::fs::write(new.join("config"), "[profile b]\ncredential_process = /gone/b --identity b\n").unwrap();
        let realms = Realms { dirs: vec![realm.clone()], how: "realm r".into() };
        assert_eq!(aws_config_files(&realms), [new.join("config"), old.join("config")]);
        let c = helper(&realms, None, &Env::from_pairs([("PATH", "/nowhere")]));
        assert!(c.detail.contains("profile `a`") && c.detail.contains("profile `b`"), "{}", c.detail);
        assert!(c.detail.contains(&new.join("config").display().to_string()), "{}", c.detail);
    }

    #[test]
    fn helper_names_profile_file_and_missing_program() {
        let t = tempfile::tempdir().unwrap();
        let realm = t.path().join("realm");
        let dir = realm.join("aws/acme-sso");
        std::fs::create_dir_all(&dir).unwrap();
        let realms = Realms { dirs: vec![realm.clone()], how: "realm r".into() };
        let env = Env::from_pairs([("PATH", "/nowhere")]);
        assert_eq!(helper(&realms, None, &env).detail, "no profiles written yet (realm r)");
        let good = t.path().join("atmos-auth-helper");
        std::fs::write(&good, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.join("config"),
            format!(
                "[profile ok]\ncredential_process = {} --identity ok\n[profile gone]\ncredential_process = /moved/atmos-auth-helper --identity gone\n",
                good.display()
            ),
        )
        .unwrap();
        let c = helper(&realms, None, &env);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("profile `gone`"), "{}", c.detail);
        assert!(c.detail.contains(&dir.join("config").display().to_string()), "{}", c.detail);
        assert!(c.detail.contains("/moved/atmos-auth-helper does not exist"), "{}", c.detail);
        assert!(!c.detail.contains("profile `ok`"), "{}", c.detail);
        assert!(c.hint.unwrap().contains("tfauth auth env -i gone"));
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(dir.join("config"), format!("[profile ok]\ncredential_process = {}\n", good.display())).unwrap();
        assert!(helper(&realms, None, &env).detail.contains("is not executable"));
    }

    #[test]
    fn a_helper_missing_beside_tfauth_fails_first() {
        let t = tempfile::tempdir().unwrap();
        let realms = Realms { dirs: vec![t.path().join("realm")], how: "realm r".into() };
        let env = Env::from_pairs([("PATH", "/nowhere")]);
        let beside = t.path().join(HELPER_NAME);
        let c = helper(&realms, Some(&beside), &env);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.starts_with(&format!("{} does not exist", beside.display())), "{}", c.detail);
        assert!(c.hint.unwrap().contains("--bins"));
        std::fs::write(&beside, "#!/bin/sh\n").unwrap();
        assert_eq!(helper(&realms, Some(&beside), &env).status, Status::Pass);
    }
}

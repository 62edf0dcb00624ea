//! The YAML functions Atmos resolves while it reads `atmos.yaml` that need more than the
//! file's text: `!exec`, `!cwd`, `!random` and the `!git.*` family (Atmos's
//! `pkg/config/process_yaml.go`, `pkg/utils/yaml_func_exec.go`, `yaml_func_random.go`,
//! `git.go` and `pkg/git/yaml_tags.go`).
//!
//! - `!exec CMD` runs `sh -c CMD` in the working directory, with the captured environment,
//!   no stdin, stderr passed through and a timeout; its stdout without trailing newlines is
//!   the value, decoded as JSON when it is JSON (so `!exec echo 3` is the number 3). It is
//!   resolved only in configuration files (never in stack manifests) and only in a file the
//!   user owns that nobody else may write: a repository file someone else controls never
//!   runs a command. Its output is never logged.
//! - `!cwd [PATH]`: the working directory, joined with PATH.
//! - `!random [MAX | MIN MAX]`: a random integer in `[MIN, MAX]` (defaults 0 and 65535).
//! - `!git.root`, `!git.sha` / `!git.ref`, `!git.branch`, `!git.url`, `!git.host`,
//!   `!git.owner`, `!git.name`, `!git.repository`, each with an optional default used when
//!   git cannot say. They read `.git` directly: tfauth never runs `git`, whose
//!   configuration can name programs to run (`core.fsmonitor`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long an `!exec` command may run.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// The most stdout an `!exec` command may print.
pub const EXEC_MAX_OUTPUT: u64 = 1024 * 1024;

/// Runs `command` with `sh -c` for `!exec`; the trimmed stdout, or why it failed.
pub fn exec(command: &str, cwd: Option<&Path>, env: &crate::env_vars::Env) -> Result<String, String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    cmd.env_clear().envs(env.iter());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    tracing::debug!(command, "running !exec");
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `sh -c`: {e}"))?;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(EXEC_MAX_OUTPUT + 1).read_to_end(&mut out);
        }
        out
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= EXEC_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} seconds", EXEC_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for the command: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".into(),
        });
    }
    if out.len() as u64 > EXEC_MAX_OUTPUT {
        return Err(format!("printed more than {EXEC_MAX_OUTPUT} bytes"));
    }
    let text = String::from_utf8(out).map_err(|_| "printed output that is not UTF-8".to_string())?;
    Ok(text.trim_end_matches('\n').to_string())
}

/// `!random` arguments: a random integer in the inclusive range, as Atmos draws it.
pub fn random(args: &str) -> Result<i64, String> {
    let parts: Vec<&str> = args.split_whitespace().map(|p| p.trim_matches(|c| c == '"' || c == '\'')).collect();
    let int =
        |what: &str, s: &str| s.parse::<i64>().map_err(|_| format!("invalid {what} value `{s}`, must be an integer"));
    let (min, max) = match parts.as_slice() {
        [] => (0, 65535),
        [max] => (0, int("max", max)?),
        [min, max] => (int("min", min)?, int("max", max)?),
        _ => return Err("the function accepts 0, 1 or 2 arguments".into()),
    };
    if min >= max {
        return Err(format!("min value ({min}) must be less than max value ({max})"));
    }
    let range = (max as i128 - min as i128 + 1) as u128;
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    // 128 random bits reduced into a range of at most 2^64: the bias is below 2^-64.
    Ok((min as i128 + (u128::from_le_bytes(buf) % range) as i128) as i64)
}

/// `!cwd [PATH]`.
pub fn cwd(cwd: Option<&Path>, arg: &str) -> Result<String, String> {
    let dir = match cwd {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|e| format!("cannot get the working directory: {e}"))?,
    };
    let arg = arg.trim();
    Ok(if arg.is_empty() { dir } else { dir.join(arg) }.display().to_string())
}

/// What `!git.*` reads from a repository's `.git`.
pub struct Git {
    /// The repository's own git directory (a worktree's, for a linked worktree).
    dir: PathBuf,
    /// The shared git directory (`commondir`), where refs and config live.
    common: PathBuf,
}

impl Git {
    /// The git directory of the work tree at `root`.
    pub fn open(root: &Path) -> Option<Git> {
        let dot = root.join(".git");
        let dir = if dot.is_dir() {
            dot
        } else {
            let text = std::fs::read_to_string(&dot).ok()?;
            let target = text.trim().strip_prefix("gitdir:")?.trim();
            root.join(target)
        };
        let common = match std::fs::read_to_string(dir.join("commondir")) {
            Ok(c) => dir.join(c.trim()),
            Err(_) => dir.clone(),
        };
        Some(Git { dir, common })
    }

    fn head(&self) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join("HEAD"))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read HEAD: {e}"))
    }

    /// The current branch; an error on a detached HEAD, as Atmos's.
    pub fn branch(&self) -> Result<String, String> {
        let head = self.head()?;
        match head.strip_prefix("ref: refs/heads/") {
            Some(b) if !b.is_empty() => Ok(b.to_string()),
            _ => Err("HEAD is detached, not on a branch".into()),
        }
    }

    /// The commit HEAD points at.
    pub fn sha(&self) -> Result<String, String> {
        let head = self.head()?;
        let Some(name) = head.strip_prefix("ref: ") else {
            return Ok(head);
        };
        for base in [&self.dir, &self.common] {
            if let Ok(s) = std::fs::read_to_string(base.join(name)) {
                return Ok(s.trim().to_string());
            }
        }
        let packed = std::fs::read_to_string(self.common.join("packed-refs")).unwrap_or_default();
        packed
            .lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(_, r)| *r == name)
            .map(|(sha, _)| sha.to_string())
            .ok_or_else(|| format!("{name} has no commit yet"))
    }

    /// The URL of the remote `origin`, else of the first remote in the config.
    pub fn remote_url(&self) -> Result<String, String> {
        let text =
            std::fs::read_to_string(self.common.join("config")).map_err(|e| format!("cannot read config: {e}"))?;
        let mut section = String::new();
        let mut urls: Vec<(String, String)> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            } else if let Some(remote) = section.strip_prefix("remote ")
                && let Some((k, v)) = line.split_once('=')
                && k.trim() == "url"
            {
                urls.push((remote.trim_matches('"').to_string(), v.trim().to_string()));
            }
        }
        urls.iter()
            .find(|(r, _)| r == "origin")
            .or(urls.first())
            .map(|(_, u)| u.clone())
            .ok_or_else(|| "the repository has no remote".into())
    }
}

/// The host, owner and name in a remote URL (`https://github.com/o/n.git`,
/// `git@github.com:o/n.git`, `ssh://git@host:22/o/n`).
pub fn parse_remote(url: &str) -> Option<(String, String, String)> {
    let rest = match url.split_once("://") {
        Some((_, r)) => r.to_string(),
        None => url.replacen(':', "/", 1),
    };
    let rest = rest.rsplit_once('@').map_or(rest.as_str(), |(_, r)| r);
    let (host, path) = rest.split_once('/')?;
    let host = host.split(':').next().unwrap_or(host);
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = path.rsplit_once('/')?;
    (!host.is_empty() && !owner.is_empty() && !name.is_empty()).then(|| (host.into(), owner.into(), name.into()))
}

/// Resolves one `!git.*` function (other than `!git.root`) at the work tree `root`.
pub fn git(tag: &str, root: Option<&Path>) -> Result<String, String> {
    let git = root.and_then(Git::open).ok_or_else(|| "not inside a git repository".to_string())?;
    let part = |i: usize| -> Result<String, String> {
        let url = git.remote_url()?;
        let (host, owner, name) = parse_remote(&url).ok_or_else(|| format!("cannot read the remote URL `{url}`"))?;
        Ok(match i {
            0 => host,
            1 => owner,
            2 => name,
            _ => format!("{owner}/{name}"),
        })
    };
    match tag {
        "!git.sha" | "!git.ref" => git.sha(),
        "!git.branch" => git.branch(),
        "!git.url" => git.remote_url(),
        "!git.host" => part(0),
        "!git.owner" => part(1),
        "!git.name" => part(2),
        "!git.repository" => part(3),
        _ => Err(format!("`{tag}` is not a git function")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_stays_in_range_and_checks_arguments() {
        for _ in 0..200 {
            let n = random("3 5").unwrap();
            assert!((3..=5).contains(&n), "{n}");
            assert!((0..=65535).contains(&random("").unwrap()));
            assert!((0..=2).contains(&random("2").unwrap()));
        }
        assert!(random("5 5").unwrap_err().contains("less than"));
        assert!(random("a").unwrap_err().contains("integer"));
        assert!(random("1 2 3").unwrap_err().contains("0, 1 or 2"));
    }

    #[test]
    fn remote_urls_parse_in_the_usual_forms() {
        let want = Some(("github.com".to_string(), "acme".to_string(), "infra".to_string()));
        assert_eq!(parse_remote("https://github.com/acme/infra.git"), want);
        assert_eq!(parse_remote("git@github.com:acme/infra.git"), want);
        assert_eq!(parse_remote("ssh://git@github.com:22/acme/infra"), want);
        assert_eq!(parse_remote("nonsense"), None);
    }

    #[test]
    fn git_reads_head_refs_and_remote() {
        let t = tempfile::tempdir().unwrap();
        let g = t.path().join(".git");
        std::fs::create_dir_all(g.join("refs/heads")).unwrap();
        std::fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(g.join("packed-refs"), "# pack-refs\nabc123 refs/heads/main\n").unwrap();
        std::fs::write(g.join("config"), "[remote \"origin\"]\n\turl = git@github.com:acme/infra.git\n").unwrap();
        let root = Some(t.path());
        assert_eq!(git("!git.branch", root).unwrap(), "main");
        assert_eq!(git("!git.sha", root).unwrap(), "abc123");
        std::fs::write(g.join("refs/heads/main"), "def456\n").unwrap();
        assert_eq!(git("!git.ref", root).unwrap(), "def456");
        assert_eq!(git("!git.repository", root).unwrap(), "acme/infra");
        assert_eq!(git("!git.host", root).unwrap(), "github.com");
        std::fs::write(g.join("HEAD"), "def456\n").unwrap();
        assert!(git("!git.branch", root).unwrap_err().contains("detached"));
        assert!(git("!git.sha", None).is_err());
    }

    #[test]
    fn exec_trims_output_and_reports_failure() {
        let env = crate::env_vars::Env::from_pairs([("PATH", "/usr/bin:/bin"), ("X", "acme")]);
        assert_eq!(exec("printf '%s\\n\\n' \"$X\"", None, &env).unwrap(), "acme");
        assert!(exec("exit 3", None, &env).unwrap_err().contains("status 3"));
    }
}

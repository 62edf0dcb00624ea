//! The first check: `atmos.yaml` loads with its profiles and its `auth:` section validates.
//!
//! Why it exists: every other check reads what this one loaded ([`Loaded`]), and a
//! configuration that does not load must still let them run. It must not fail the run
//! itself: a load error becomes a failed [`Check`], never an early return.

use super::{Check, Inputs, hint_of};
use crate::auth::Problem;
use crate::config::{self, AtmosConfig, ConfigOptions};
use crate::yaml::Node;
use std::path::Path;

/// What the config check found, for the checks after it.
pub struct Loaded {
    pub config: Option<AtmosConfig>,
    /// The merged `auth:` section (null when absent or not loaded).
    pub auth: Node,
}

/// `atmos.yaml` is found the way every command finds it, loads with its profiles, and its
/// auth section has none of the problems `tfauth auth validate` reports.
pub fn config(inputs: &Inputs<'_>) -> (Check, Loaded) {
    const NAME: &str = "config";
    let mut loaded = Loaded { config: None, auth: Node::null() };
    let file = match config::discover(inputs.cwd, inputs.env) {
        Ok(f) => f,
        Err(e) => {
            return (Check::fail(NAME, e.to_string(), hint_of(e.hint())), loaded);
        }
    };
    let opts = ConfigOptions { cwd: inputs.cwd.to_path_buf(), profiles: inputs.profiles.to_vec() };
    let cfg = match config::load_file(&file, &opts, inputs.env) {
        Ok(c) => c,
        Err(e) => {
            return (Check::fail(NAME, e.to_string(), hint_of(e.hint())), loaded);
        }
    };
    // As every command that loads atmos.yaml: its auth.logs from here on.
    crate::util::logging::apply_config(cfg.logs.level.as_deref(), cfg.logs.file.as_deref());
    let auth_node = cfg.auth().cloned().unwrap_or_else(Node::null);
    let (auth, mut problems) = crate::identity::parse_auth(Some(&auth_node));
    problems.extend(crate::resolve::undefined_default_problems(&auth_node));
    let profiles: Vec<&str> = cfg.profiles.iter().map(|p| p.name.as_str()).collect();
    let profiles = if profiles.is_empty() { String::new() } else { format!(", profile {}", profiles.join(",")) };
    // `.atmos.d/`, `atmos.d/` and imports: say how many files beside atmos.yaml were read.
    let more = match cfg.sources.len().saturating_sub(1) {
        0 => String::new(),
        n => format!(" (+{n} file(s) from .atmos.d/, atmos.d/ or import:)"),
    };
    let summary = format!(
        "{}{more}{profiles}: {} provider(s), {} identity(ies)",
        file.display(),
        auth.providers.len(),
        auth.identities.len()
    );
    let check = if !problems.is_empty() {
        Check::fail(NAME, problems_text(&file, &profiles, &problems), problems_hint(&problems))
    } else if !cfg.warnings.is_empty() {
        let mut detail = summary;
        for w in &cfg.warnings {
            detail.push_str(&format!("\n- {w}"));
        }
        Check::warn(NAME, detail, "fix or remove the import entries named above; Atmos skips them too")
    } else if auth.notes.all().next().is_some() {
        // Accepted as Atmos accepts them (issue 16): said, never a failure.
        let mut detail = summary;
        for w in auth.notes.all() {
            detail.push_str(&format!("\n- {w}"));
        }
        Check::warn(
            NAME,
            detail,
            "these are accepted; a run whose chain needs one marked \"not supported by tfauth yet\" is refused",
        )
    } else {
        Check::pass(NAME, summary)
    };
    loaded.config = Some(cfg);
    loaded.auth = auth_node;
    (check, loaded)
}

fn problems_text(file: &Path, profiles: &str, problems: &[Problem]) -> String {
    let mut out = format!("{}{profiles}: {} auth problem(s)", file.display(), problems.len());
    for p in problems.iter().take(3) {
        out.push_str(&format!("\n- {p}"));
    }
    if problems.len() > 3 {
        out.push_str(&format!("\n- and {} more", problems.len() - 3));
    }
    out
}

fn problems_hint(problems: &[Problem]) -> String {
    let mut hint = "fix each problem at the file and line shown; `tfauth auth validate` lists them all".to_string();
    if let Some(h) = problems.iter().find_map(|p| p.hint.as_deref()) {
        hint.push('\n');
        hint.push_str(h);
    }
    hint
}

//! `tfauth doctor [--format text|json]`: runs every check in [`crate::doctor`] and prints
//! the results on stdout: one line per check with indented `hint:` lines (text), or one
//! JSON document `{"ok", "checks": [{"name", "status", "detail", "hint"}]}`. Exits 0 when
//! no check fails (a warning is not a failure) and [`crate::exit::DOCTOR_FAILED`] when one
//! does. Never returns an error: a problem is a check's result.

use super::Ctx;
use crate::doctor::{Check, Inputs, Status};
use crate::error::Error;
use clap::Args;

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # Every check, one line each; exit 1 when one fails
  tfauth doctor

  # One JSON document, for CI
  tfauth doctor -f json")]
pub struct DoctorArgs {
    /// text (one line per check) or json (one document).
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: DoctorFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorFormat {
    Text,
    Json,
}

pub fn run(args: DoctorArgs, ctx: &Ctx) -> Result<i32, Error> {
    let checks = crate::doctor::run(&Inputs {
        env: &ctx.env,
        cwd: &ctx.cwd,
        self_exe: ctx.self_exe.as_deref(),
        profiles: &ctx.settings.profiles,
    });
    print!(
        "{}",
        match args.format {
            DoctorFormat::Text => text(&checks),
            DoctorFormat::Json => json(&checks),
        }
    );
    Ok(if ok(&checks) { 0 } else { crate::exit::DOCTOR_FAILED })
}

fn ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// `ok   config       detail`, continuation lines under the detail, then `hint:` lines.
pub fn text(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let indent = " ".repeat(5 + width + 2);
    let mut out = String::new();
    for c in checks {
        let status = match c.status {
            Status::Pass => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        let mut lines = c.detail.lines();
        out.push_str(&format!("{status:<4} {:<width$}  {}\n", c.name, lines.next().unwrap_or("")));
        for l in lines {
            out.push_str(&format!("{indent}{l}\n"));
        }
        for h in c.hint.iter().flat_map(|h| h.lines()) {
            out.push_str(&format!("     hint: {h}\n"));
        }
    }
    out
}

/// One JSON document; `hint` is null for a pass.
pub fn json(checks: &[Check]) -> String {
    let doc = serde_json::json!({ "ok": ok(checks), "checks": checks });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        vec![
            Check { name: "config", status: Status::Pass, detail: "/r/atmos.yaml".into(), hint: None },
            Check {
                name: "permissions",
                status: Status::Fail,
                detail: "2 path(s):\n- /a\n- /b".into(),
                hint: Some("chmod 600 /a\nchmod 700 /b".into()),
            },
            Check { name: "clock", status: Status::Warn, detail: "2 min".into(), hint: Some("sync".into()) },
        ]
    }

    #[test]
    fn text_is_one_line_per_check_with_hints_below() {
        assert_eq!(
            text(&checks()),
            "ok   config       /r/atmos.yaml\n\
             FAIL permissions  2 path(s):\n                  - /a\n                  - /b\n     hint: chmod 600 /a\n     hint: chmod 700 /b\n\
             warn clock        2 min\n     hint: sync\n"
        );
    }

    #[test]
    fn json_has_ok_and_every_check() {
        let v: serde_json::Value = serde_json::from_str(&json(&checks())).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(
            v["checks"][0],
            serde_json::json!({"name": "config", "status": "pass", "detail": "/r/atmos.yaml", "hint": null})
        );
        assert_eq!(v["checks"][1]["status"], "fail");
        assert_eq!(v["checks"][2]["hint"], "sync");
        let all_ok = [checks()[0].clone(), checks()[2].clone()];
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json(&all_ok)).unwrap()["ok"],
            true,
            "warn is not a failure"
        );
    }
}

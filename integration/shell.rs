//! The shell integration in real shells. `shell/` passes shellcheck (bash) and the shells'
//! own syntax checks (zsh and fish, which shellcheck does not read); `tfauth shell-init
//! SHELL --alias`, evaluated twice in a clean bash, zsh and fish, registers its completion
//! once, and the registered function, driven through each shell's own protocol (bash's
//! COMP_* variables, zsh's words/CURRENT/PREFIX and compadd, fish's `complete -C`), offers
//! the example repository's subcommands, components, stacks (only those with the component),
//! identities and profiles, for `tfauth` and for the `terraform`/`tofu` aliases. Under tmux,
//! interactive bash and zsh complete on a real TAB, and `tfauth auth shell` shows its
//! identity and time left in the bash prompt until `exit` hands its code back.

use super::{BEARER, github_env};
use crate::support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn shell_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shell")
}

/// PATH with the directory of the tfauth under test first.
fn path_with_tfauth() -> String {
    format!("{}:/usr/bin:/bin", Path::new(TFAUTH).parent().unwrap().display())
}

/// Fails with the way out when a tool `integration/setup` installs is missing.
fn need(tool: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success();
    assert!(found, "{tool} is not installed: run integration/setup (it installs shellcheck, zsh, fish and tmux)");
}

/// The examples' repository plus an identity whose name has a colon: bash splits words at
/// `:` (COMP_WORDBREAKS), which the bash completion has to undo.
fn shell_bed() -> Bed {
    let bed = Bed::new();
    std::fs::write(
        bed.repo().join("profiles/developers/zz-colon.yaml"),
        "auth:\n  identities:\n    \"ops:breakglass\": {kind: aws/assume-role, via: {identity: plat-dev/terraform}, principal: {assume_role: \"arn:aws:iam::444444444444:role/breakglass\"}}\n",
    )
    .unwrap();
    bed
}

/// `argv` followed by `script` in the bed's repository, the built tfauth first on PATH.
fn in_shell(bed: &Bed, argv: &[&str], script: &str) -> Out {
    let mut c = bed.cmd(argv[0]);
    c.env("PATH", path_with_tfauth()).args(&argv[1..]).arg(script);
    let o = run(c);
    assert_eq!(o.code, 0, "{argv:?} failed\nstdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    o
}

/// A script's output in sections: a line `== LABEL` starts one, the lines after it are its items.
fn sections(stdout: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(label) = line.strip_prefix("== ") {
            assert!(!out.contains_key(label), "section `{label}` twice");
            out.insert(label.to_string(), Vec::new());
            current = Some(label.to_string());
        } else if let Some(label) = &current {
            out.get_mut(label).unwrap().push(line.to_string());
        }
    }
    out
}

/// The items of section `label`, up to a tab (fish and the zsh recorder add descriptions).
fn values<'a>(s: &'a BTreeMap<String, Vec<String>>, label: &str) -> Vec<&'a str> {
    s.get(label)
        .unwrap_or_else(|| panic!("no section `{label}` in {s:#?}"))
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect()
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

const ALL_STACKS: [&str; 12] = [
    "core-use2-dev",
    "core-use2-prod",
    "core-use2-staging",
    "core-usw2-dev",
    "core-usw2-prod",
    "core-usw2-staging",
    "plat-use2-dev",
    "plat-use2-prod",
    "plat-use2-staging",
    "plat-usw2-dev",
    "plat-usw2-prod",
    "plat-usw2-staging",
];
/// `app` is only in the plat stacks, `analytics` only in plat-use2-dev.
const APP_STACKS: [&str; 6] =
    ["plat-use2-dev", "plat-use2-prod", "plat-use2-staging", "plat-usw2-dev", "plat-usw2-prod", "plat-usw2-staging"];
const PROFILES: [&str; 4] = ["developers", "devops", "github", "okta"];

/// The completion answers every shell must give for the same command lines (the labels
/// are the command lines; each script prints them as it completes them).
fn assert_common_answers(s: &BTreeMap<String, Vec<String>>, shell: &str) {
    let subcommands = values(s, "tfauth ");
    for want in ["plan", "apply", "describe", "auth", "list", "shell-init"] {
        assert!(subcommands.contains(&want), "{shell}: no {want} in {subcommands:?}");
    }
    assert_eq!(values(s, "tfauth pl"), ["plan"], "{shell}");
    let auth = values(s, "tfauth auth ");
    for want in ["shell", "login", "exec", "env", "whoami"] {
        assert!(auth.contains(&want), "{shell}: no auth {want} in {auth:?}");
    }
    let components = values(s, "tfauth plan ");
    for want in ["vpc", "dns", "app", "analytics", "blobstore"] {
        assert!(components.contains(&want), "{shell}: no component {want} in {components:?}");
    }
    assert_eq!(sorted(values(s, "tfauth plan vpc -s ")), ALL_STACKS, "{shell}");
    assert_eq!(sorted(values(s, "tfauth plan app -s ")), APP_STACKS, "{shell}: stacks without app must be absent");
    assert_eq!(values(s, "tfauth plan analytics -s "), ["plat-use2-dev"], "{shell}");
    assert_eq!(values(s, "terraform plan analytics -s "), ["plat-use2-dev"], "{shell}: the terraform alias");
    assert_eq!(sorted(values(s, "tofu plan app -s plat-usw2-")), APP_STACKS[3..], "{shell}: the tofu alias");
    let none = values(s, "tfauth plan app -s core");
    assert!(!none.iter().any(|v| v.contains("-use2-") || v.contains("-usw2-")), "{shell}: {none:?}");
    let identities = values(s, "tfauth plan vpc -i ");
    for want in ["plat-dev/terraform", "core-prod/terraform", "ops:breakglass"] {
        assert!(identities.contains(&want), "{shell}: no identity {want} in {identities:?}");
    }
    assert_eq!(values(s, "tfauth plan vpc -s plat-use2-dev --identity acme/"), ["acme/network"], "{shell}");
    assert_eq!(sorted(values(s, "tfauth --profile ")), PROFILES, "{shell}");
    assert_eq!(sorted(values(s, "terraform plan vpc --profile d")), ["developers", "devops"], "{shell}");
}

/// A session cache entry expiring in 90 minutes (what `TFAUTH_SESSION` points at).
fn session_file(bed: &Bed) -> PathBuf {
    let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(90);
    let text = expires.format(&time::format_description::well_known::Rfc3339).unwrap();
    let path = bed.dir.path().join("session.json");
    std::fs::write(&path, format!("{{\"Version\":1,\"Expiration\":\"{text}\"}}")).unwrap();
    path
}

/// A `tfauth` and an `atmos-auth-helper` that must never run: the prompt function outside a
/// tfauth shell returns before calling either.
fn tripwire_bin(bed: &Bed) -> PathBuf {
    let dir = bed.dir.path().join("tripwire");
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for bin in ["tfauth", "atmos-auth-helper"] {
        std::fs::write(dir.join(bin), "#!/bin/sh\necho TFAUTH-RAN\n").unwrap();
        std::fs::set_permissions(dir.join(bin), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// What every shell's prompt function printed (sections `prompt outside`, `prompt inside`).
fn assert_prompt_answers(s: &BTreeMap<String, Vec<String>>, shell: &str) {
    assert_eq!(s["prompt outside"], ["status 3"], "{shell}: no segment, tfauth not run, $? kept");
    let inside = &s["prompt inside"];
    assert_eq!(inside.len(), 2, "{shell}: {inside:?}");
    let (plain, custom) = (&inside[0], &inside[1]);
    let ok = |l: &str, open: &str, close: &str| {
        l.strip_prefix(&format!("{open}acme/admin 1h"))
            .and_then(|r| r.strip_suffix(close))
            .is_some_and(|m| ["29m", "30m"].contains(&m))
    };
    assert!(ok(plain, " [", "] status 3"), "{shell}: {plain:?}");
    assert!(ok(custom, "<", ">"), "{shell}: {custom:?}");
}

#[test]
fn shell_files_pass_shellcheck_and_the_shells_syntax_checks() {
    for tool in ["shellcheck", "zsh", "fish"] {
        need(tool);
    }
    let mut files = Vec::new();
    let mut stack = vec![shell_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    let mut checked = BTreeMap::new();
    let python = venv_bin("python").display().to_string();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let ext = f.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let (tool, args): (&str, Vec<&str>) = match ext.as_str() {
            // shellcheck's optional checks too, except braces around every variable (style only).
            "bash" | "sh" => ("shellcheck", vec!["-s", "bash", "-o", "all", "-e", "SC2250"]),
            "zsh" => ("zsh", vec!["-n"]),
            "fish" => ("fish", vec!["--no-execute"]),
            "toml" => (python.as_str(), vec!["-c", "import sys, tomllib; tomllib.load(open(sys.argv[1], 'rb'))"]),
            "md" => continue,
            _ => panic!("{}: no check for this kind of file; add one here", f.display()),
        };
        let o = Command::new(tool).args(&args).arg(f).output().unwrap();
        assert!(
            o.status.success(),
            "{tool} {args:?} {}:\n{}{}",
            f.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        checked.insert(name, tool);
    }
    // The six files tfauth embeds, and the prompt snippets, were all among them.
    for want in [
        "tfauth.bash",
        "tfauth.zsh",
        "tfauth.fish",
        "alias.bash",
        "alias.zsh",
        "alias.fish",
        "bash-ps1.sh",
        "zsh-rprompt.zsh",
        "tfauth-prompt.fish",
        "starship.toml",
    ] {
        assert!(checked.contains_key(want), "{want} was not checked: {checked:?}");
    }
    // shell-init prints exactly these files: what was checked is what users load.
    for sh in ["bash", "zsh", "fish"] {
        let read = |n: String| std::fs::read_to_string(shell_dir().join(n)).unwrap();
        let o = run({
            let mut c = Command::new(TFAUTH);
            c.args(["shell-init", sh]);
            c
        });
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout, read(format!("tfauth.{sh}")), "shell-init {sh}");
        let o = run({
            let mut c = Command::new(TFAUTH);
            c.args(["shell-init", sh, "--alias"]);
            c
        });
        assert_eq!(o.stdout, read(format!("tfauth.{sh}")) + &read(format!("alias.{sh}")), "shell-init {sh} --alias");
    }
}

/// Completes `line` the way bash calls a completion function: COMP_WORDS split as bash
/// splits them (also at `=` and `:`), the function found with `complete -p`.
const BASH_DRIVER: &str = r#"
c() { # c POINT LINE WORD...: POINT empty means the end of LINE
    COMP_LINE=$2
    COMP_POINT=${1:-${#2}}
    shift 2
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    local spec fn
    spec=$(complete -p "${COMP_WORDS[0]}") || return 1
    fn=${spec#*-F }
    fn=${fn%% *}
    COMPREPLY=(stale)
    "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    if [[ $COMP_POINT -eq ${#COMP_LINE} ]]; then echo "== $COMP_LINE"; else echo "== $COMP_LINE@$COMP_POINT"; fi
    if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi
}
"#;

#[test]
fn bash_completion_and_prompt_from_shell_init_loaded_twice() {
    need("bash");
    let bed = shell_bed();
    let session = session_file(&bed);
    let tripwire = tripwire_bin(&bed);
    let ps1 = shell_dir().join("prompt/bash-ps1.sh");
    let script = format!(
        r#"{BASH_DRIVER}
eval "$(tfauth shell-init bash --alias)"
eval "$(tfauth shell-init bash --alias)"
echo "== complete -p"; complete -p
echo "== alias"; alias
echo "== PROMPT_COMMAND"; echo "${{PROMPT_COMMAND-unset}}"
PS1='\u@\h:\w\$ '
source {ps1}
source {ps1}
echo "== PS1"; echo "$PS1"
echo "== prompt outside"; (PATH={tripwire}:$PATH; (exit 3); __tfauth_prompt; echo "status $?")
echo "== prompt inside"
(export TFAUTH_IDENTITY=acme/admin TFAUTH_SESSION={session}; (exit 3); __tfauth_prompt; echo " status $?"; __tfauth_prompt '<%s>'; echo)
c '' 'tfauth ' tfauth ''
c '' 'tfauth pl' tfauth pl
c '' 'tfauth auth ' tfauth auth ''
c '' 'tfauth plan ' tfauth plan ''
c '' 'tfauth plan vpc -s ' tfauth plan vpc -s ''
c '' 'tfauth plan app -s ' tfauth plan app -s ''
c '' 'tfauth plan analytics -s ' tfauth plan analytics -s ''
c '' 'terraform plan analytics -s ' terraform plan analytics -s ''
c '' 'tofu plan app -s plat-usw2-' tofu plan app -s plat-usw2-
c '' 'tfauth plan app -s core' tfauth plan app -s core
c '' 'tfauth plan vpc -i ' tfauth plan vpc -i ''
c '' 'tfauth plan vpc -s plat-use2-dev --identity acme/' tfauth plan vpc -s plat-use2-dev --identity acme/
c '' 'tfauth --profile ' tfauth --profile ''
c '' 'terraform plan vpc --profile d' terraform plan vpc --profile d
c '' 'tfauth plan vpc --stack=plat-use2-d' tfauth plan vpc --stack = plat-use2-d
c '' 'tfauth plan analytics --stack=' tfauth plan analytics --stack =
c '' 'tfauth plan vpc -i ops:b' tfauth plan vpc -i ops : b
c '' 'tfauth plan vpc -i ops:' tfauth plan vpc -i ops :
c '' 'tfauth plan vpc --identity=ops:' tfauth plan vpc --identity = ops :
c 27 'tfauth plan analytics -s plXYZ' tfauth plan analytics -s plXYZ
"#,
        ps1 = ps1.display(),
        tripwire = tripwire.display(),
        session = session.display(),
    );
    let o = in_shell(&bed, &["bash", "--norc", "--noprofile", "-c"], &script);
    let s = sections(&o.stdout);
    // Loaded twice, registered once each; nothing added to PROMPT_COMMAND.
    assert_eq!(
        sorted(s["complete -p"].iter().map(String::as_str).collect()),
        [
            "complete -o default -F _tfauth terraform",
            "complete -o default -F _tfauth tfauth",
            "complete -o default -F _tfauth tofu"
        ]
    );
    assert_eq!(s["alias"], ["alias terraform='tfauth'", "alias tofu='ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu tfauth'"]);
    assert_eq!(s["PROMPT_COMMAND"], ["unset"]);
    // The PS1 snippet, sourced twice, put the segment in once, before `\$ `.
    assert_eq!(s["PS1"], ["\\u@\\h:\\w$(__tfauth_prompt)\\$ "]);
    assert_prompt_answers(&s, "bash");
    assert_common_answers(&s, "bash");
    // Bash shows no descriptions, and replaces only what follows the last `=` or `:`.
    assert!(s.values().flatten().all(|l| !l.contains('\t') && l != "stale"), "{s:#?}");
    assert_eq!(values(&s, "tfauth plan vpc --stack=plat-use2-d"), ["plat-use2-dev"]);
    assert_eq!(values(&s, "tfauth plan analytics --stack="), ["plat-use2-dev"]);
    assert_eq!(values(&s, "tfauth plan vpc -i ops:b"), ["breakglass"]);
    assert_eq!(values(&s, "tfauth plan vpc -i ops:"), ["breakglass"]);
    assert_eq!(values(&s, "tfauth plan vpc --identity=ops:"), ["breakglass"]);
    // Only what is left of the cursor counts.
    assert_eq!(values(&s, "tfauth plan analytics -s plXYZ@27"), ["plat-use2-dev"]);
}

/// Drives zsh's completion protocol without a terminal: `words`, `CURRENT` and `PREFIX` as
/// the completion system sets them, the function `_comps` (compdef's table) names for the
/// command, and `compadd` replaced by a recorder that prints each value with its display
/// string (the real compadd only works inside a completion widget).
const ZSH_DRIVER: &str = r#"
compadd() {
    local -a names vals disps
    local disp= arrays=0 n i
    while (( $# )); do
        case $1 in
            -d) disp=$2; shift ;;
            -a) arrays=1 ;;
            -l) ;;
            -*) print -r -- "unexpected compadd option $1" >&2; return 1 ;;
            *) names+=("$1") ;;
        esac
        shift
    done
    if (( arrays )); then for n in $names; do vals+=("${(@P)n}"); done; else vals=("${names[@]}"); fi
    [[ -n $disp ]] && disps=("${(@P)disp}")
    for (( i = 1; i <= ${#vals}; i++ )); do print -r -- "${vals[i]}${disps[i]:+	${disps[i]}}"; done
}
_default() { print -r -- "(files)" }
c() { # c WORD...: complete the last word, the cursor at its end
    local -a words=("$@")
    local CURRENT=$# PREFIX=${@[-1]} SUFFIX=
    print -r -- "== ${(j: :)words}"
    ${_comps[$words[1]]:-false}
}
"#;

/// The command lines every shell completes (as zsh/fish argument lists).
const COMMON_LINES: &[&[&str]] = &[
    &["tfauth", ""],
    &["tfauth", "pl"],
    &["tfauth", "auth", ""],
    &["tfauth", "plan", ""],
    &["tfauth", "plan", "vpc", "-s", ""],
    &["tfauth", "plan", "app", "-s", ""],
    &["tfauth", "plan", "analytics", "-s", ""],
    &["terraform", "plan", "analytics", "-s", ""],
    &["tofu", "plan", "app", "-s", "plat-usw2-"],
    &["tfauth", "plan", "app", "-s", "core"],
    &["tfauth", "plan", "vpc", "-i", ""],
    &["tfauth", "plan", "vpc", "-s", "plat-use2-dev", "--identity", "acme/"],
    &["tfauth", "--profile", ""],
    &["terraform", "plan", "vpc", "--profile", "d"],
    &["tfauth", "plan", "vpc", "--stack=plat-use2-d"],
    &["tfauth", "plan", "vpc", "-i", "ops:b"],
];

fn zsh_calls() -> String {
    COMMON_LINES
        .iter()
        .map(|words| format!("c {}\n", words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ")))
        .collect()
}

#[test]
fn zsh_completion_and_prompt_from_shell_init_loaded_twice() {
    need("zsh");
    let bed = shell_bed();
    let session = session_file(&bed);
    let tripwire = tripwire_bin(&bed);
    let rprompt = shell_dir().join("prompt/zsh-rprompt.zsh");
    let script = format!(
        r#"autoload -Uz compinit && compinit -D -u
{ZSH_DRIVER}
eval "$(tfauth shell-init zsh --alias)"
eval "$(tfauth shell-init zsh --alias)"
echo "== registered"; print -r -- "tfauth=${{_comps[tfauth]}} terraform=${{_comps[terraform]}} tofu=${{_comps[tofu]}}"
echo "== precmd"; print -rl -- $precmd_functions
echo "== alias"; alias terraform tofu
RPROMPT='%T'
source {rprompt}
source {rprompt}
echo "== RPROMPT"; print -r -- "$RPROMPT"; print -r -- "prompt_subst=$options[promptsubst]"
echo "== prompt outside"; (PATH={tripwire}:$PATH; (exit 3); __tfauth_prompt; echo "status $?")
echo "== prompt inside"
(export TFAUTH_IDENTITY=acme/admin TFAUTH_SESSION={session}; (exit 3); __tfauth_prompt; echo " status $?"; __tfauth_prompt '<%s>'; echo)
{calls}"#,
        rprompt = rprompt.display(),
        tripwire = tripwire.display(),
        session = session.display(),
        calls = zsh_calls(),
    );
    let mut c = bed.cmd("zsh");
    c.env("PATH", path_with_tfauth()).env("ZDOTDIR", bed.home()).args(["-f", "-c", &script]);
    let o = run(c);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let s = sections(&o.stdout);
    assert_eq!(s["registered"], ["tfauth=_tfauth terraform=_tfauth tofu=_tfauth"]);
    assert!(s["precmd"].iter().all(|l| l.is_empty()), "compinit had run: no hook left behind: {:?}", s["precmd"]);
    assert_eq!(s["alias"], ["terraform=tfauth", "tofu='ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu tfauth'"]);
    assert_eq!(s["RPROMPT"], ["$(__tfauth_prompt \"[%s]\") %T", "prompt_subst=on"]);
    assert_prompt_answers(&s, "zsh");
    assert_common_answers(&s, "zsh");
    // zsh does not split at `=` or `:`: the whole word is the candidate.
    assert_eq!(values(&s, "tfauth plan vpc --stack=plat-use2-d"), ["--stack=plat-use2-dev"]);
    assert_eq!(values(&s, "tfauth plan vpc -i ops:b"), ["ops:breakglass"]);
    // Descriptions go to the listing, in a column; nothing from tfauth falls back to files.
    let plan = s["tfauth pl"][0].as_str();
    assert!(plan.starts_with("plan\tplan") && plan.contains("  -- Show changes"), "{plan:?}");
    assert_eq!(s["tfauth plan app -s core"], ["(files)"]);
}

#[test]
fn zsh_registers_the_completion_when_compinit_runs_after_shell_init() {
    need("zsh");
    let bed = shell_bed();
    let script = r#"
eval "$(tfauth shell-init zsh --alias)"
echo "== before"; print -r -- "compdef=${+functions[compdef]} tfauth=${_comps[tfauth]-none}"; print -rl -- $precmd_functions
autoload -Uz compinit && compinit -D -u
# What zsh does before the first prompt after ~/.zshrc.
for f in $precmd_functions; do $f; done
echo "== after"; print -r -- "tfauth=${_comps[tfauth]} terraform=${_comps[terraform]} tofu=${_comps[tofu]}"; print -rl -- $precmd_functions
"#;
    let mut c = bed.cmd("zsh");
    c.env("PATH", path_with_tfauth()).env("ZDOTDIR", bed.home()).args(["-f", "-c", script]);
    let o = run(c);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    let s = sections(&o.stdout);
    assert_eq!(s["before"], ["compdef=0 tfauth=none", "__tfauth_compdef"]);
    assert_eq!(s["after"], ["tfauth=_tfauth terraform=_tfauth tofu=_tfauth", ""], "registered, and the hook is gone");
}

#[test]
fn fish_completion_and_prompt_from_shell_init_loaded_twice() {
    need("fish");
    let bed = shell_bed();
    let session = session_file(&bed);
    let tripwire = tripwire_bin(&bed);
    let snippet = shell_dir().join("prompt/tfauth-prompt.fish");
    let calls: String = COMMON_LINES
        .iter()
        .chain([&["tfauth", "plan", "vpc", "-s", "plat-use2-dev", "-var-file=stacks/orgs/acme/_d"][..]].iter())
        .map(|words| {
            let line = words.join(" ");
            format!("echo '== {line}'; complete -C '{line}'\n")
        })
        .collect();
    // fish has no `(exit 3)`: the function `st` sets $status to 3 instead.
    let script = format!(
        r#"
tfauth shell-init fish --alias | source
tfauth shell-init fish --alias | source
echo "== complete -c"; complete -c tfauth; complete -c terraform; complete -c tofu
function fish_right_prompt; echo -n '(mine)'; end
source {snippet}
source {snippet}
echo "== right prompt"; fish_right_prompt; echo; TFAUTH_IDENTITY=acme/admin fish_right_prompt; echo
function st; return 3; end
echo "== prompt outside"; begin; set -lx PATH {tripwire} $PATH; st; __tfauth_prompt; echo "status $status"; end
echo "== prompt inside"
begin
    set -lx TFAUTH_IDENTITY acme/admin; set -lx TFAUTH_SESSION {session}
    st; __tfauth_prompt; echo " status $status"; __tfauth_prompt '<%s>'; echo
end
{calls}"#,
        snippet = snippet.display(),
        tripwire = tripwire.display(),
        session = session.display(),
    );
    let o = in_shell(&bed, &["fish", "--no-config", "-c"], &script);
    let s = sections(&o.stdout);
    assert_eq!(
        s["complete -c"],
        [
            "complete --no-files tfauth -a '(__tfauth_complete)'",
            "complete terraform --wraps tfauth",
            "complete tofu --wraps tfauth"
        ],
        "loaded twice, registered once"
    );
    assert_eq!(s["right prompt"], ["(mine)", "[acme/admin](mine)"], "the segment, then the right prompt kept");
    assert_prompt_answers(&s, "fish");
    assert_common_answers(&s, "fish");
    assert_eq!(values(&s, "tfauth plan vpc --stack=plat-use2-d"), ["--stack=plat-use2-dev"]);
    assert_eq!(values(&s, "tfauth plan vpc -i ops:b"), ["ops:breakglass"]);
    assert!(
        s["tfauth pl"][0].starts_with("plan\tShow changes"),
        "fish shows tfauth's description: {:?}",
        s["tfauth pl"]
    );
    // Nothing from tfauth: paths, also after `-flag=`.
    assert_eq!(
        values(&s, "tfauth plan vpc -s plat-use2-dev -var-file=stacks/orgs/acme/_d"),
        ["-var-file=stacks/orgs/acme/_defaults.yaml"]
    );
}

#[test]
fn aliases_run_terraform_and_tofu_through_tfauth_in_every_shell() {
    for tool in ["bash", "zsh", "fish"] {
        need(tool);
    }
    let bed = shell_bed();
    // Stand-ins for the real programs: each says who it is.
    let bin = bed.dir.path().join("real");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["terraform", "tofu"] {
        std::fs::write(bin.join(name), format!("#!/bin/sh\necho \"{name}-standin $*\"\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", path_with_tfauth(), bin.display());
    for (argv, script) in [
        (
            &["bash", "--norc", "--noprofile", "-c"][..],
            "shopt -s expand_aliases\neval \"$(tfauth shell-init bash --alias)\"\nterraform version\ntofu version\n",
        ),
        (&["zsh", "-f", "-c"][..], "eval \"$(tfauth shell-init zsh --alias)\"\nterraform version\ntofu version\n"),
        (
            &["fish", "--no-config", "-c"][..],
            "tfauth shell-init fish --alias | source\nterraform version\ntofu version\n",
        ),
    ] {
        let mut c = bed.cmd(argv[0]);
        c.env("PATH", &path).args(&argv[1..]).arg(script);
        let o = run(c);
        assert_eq!(o.code, 0, "{argv:?}: {}", o.stderr);
        // tfauth passed both through (no stack), and `tofu` reached tofu although terraform is
        // first in tfauth's search.
        assert_eq!(o.stdout, "terraform-standin version\ntofu-standin version\n", "{argv:?}: {}", o.stderr);
    }
}

#[test]
fn starship_snippet_runs_tfauth_prompt_only_in_a_tfauth_shell() {
    let text = std::fs::read_to_string(shell_dir().join("prompt/starship.toml")).unwrap();
    let py = r#"
import json, sys, tomllib
print(json.dumps(tomllib.loads(sys.stdin.read())["custom"]["tfauth"]))
"#;
    let mut c = Command::new(venv_bin("python"));
    c.args(["-c", py]);
    let o = run_with_stdin(c, &text);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(m["command"], "atmos-auth-helper prompt");
    assert_eq!(m["shell"], serde_json::json!(["sh"]));
    // Starship runs `when` and then `command` with that shell; so does this test.
    let bed = Bed::new();
    let session = session_file(&bed);
    let sh = |script: &str, identity: Option<&str>| {
        let mut c = bed.cmd("sh");
        c.env("PATH", path_with_tfauth()).env("TFAUTH_SESSION", &session).args(["-c", script]);
        if let Some(i) = identity {
            c.env("TFAUTH_IDENTITY", i);
        }
        run(c)
    };
    let when = m["when"].as_str().unwrap();
    assert_ne!(sh(when, None).code, 0, "shown without an identity");
    assert_eq!(sh(when, Some("acme/admin")).code, 0);
    let out = sh(m["command"].as_str().unwrap(), Some("acme/admin"));
    assert!(out.stdout.starts_with("acme/admin 1h") && out.stdout.ends_with("m\n"), "{}", out.stdout);
}

/// An interactive shell in a detached tmux session on a socket of its own (under the bed),
/// killed on drop.
struct Tmux<'a> {
    bed: &'a Bed,
    socket: String,
    env: Vec<(String, String)>,
}

impl<'a> Tmux<'a> {
    fn start(bed: &'a Bed, name: &str, env: Vec<(String, String)>, command: &str) -> Tmux<'a> {
        need("tmux");
        let t = Tmux { bed, socket: format!("tfauth-{}-{name}", std::process::id()), env };
        let o = run(t.cmd(&["new-session", "-d", "-x", "200", "-y", "50", command]));
        assert_eq!(o.code, 0, "tmux new-session: {}", o.stderr);
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.bed.cmd("tmux");
        c.env("TMUX_TMPDIR", self.bed.dir.path())
            .env("TERM", "xterm-256color")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["-L", &self.socket])
            .args(args);
        c
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = run(self.cmd(args));
        assert_eq!(o.code, 0, "tmux {args:?}: {}", o.stderr);
        o.stdout
    }

    /// Types `text` as is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    /// Presses keys by tmux's names (`Tab`, `Enter`, `C-u`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    /// The line the cursor is on.
    fn cursor_line(&self) -> String {
        let y: usize = self.tmux(&["display-message", "-p", "#{cursor_y}"]).trim().parse().unwrap();
        self.screen().lines().nth(y).unwrap_or("").to_string()
    }

    /// Polls until `ok(screen, cursor line)`; panics with the screen after 60 s.
    fn wait(&self, what: &str, ok: impl Fn(&str, &str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let (screen, line) = (self.screen(), self.cursor_line());
            if ok(&screen, &line) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "waited 60 s for {what}; the terminal shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = run(self.cmd(&["kill-server"]));
    }
}

/// The environment of a shell started in tmux: the bed's, tfauth first on PATH.
fn tmux_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let bash = ["/bin/bash", "/usr/bin/bash"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let mut env = vec![
        ("PATH".to_string(), format!("{}:{}", path_with_tfauth(), venv().join("bin").display())),
        ("SHELL".to_string(), bash.to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// `$ ` or `# ` (bash's `\$` for root), after which the input line starts.
fn sign() -> &'static str {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 { "# " } else { "$ " }
}

/// Types `input`, presses TAB and waits until the line reads `want` (the prompt stripped);
/// clears the line.
fn tab_completes(t: &Tmux, prompt: &str, input: &str, want: &str) {
    t.type_text(input);
    t.keys(&["Tab"]);
    t.wait(&format!("`{input}` + TAB to become `{want}`"), |_, line| {
        line.strip_prefix(prompt)
            .is_some_and(|rest| rest.trim_end().trim_end_matches("[acme/admin]").trim_end() == want)
    });
    t.keys(&["C-u"]);
    t.wait("an empty input line", |_, line| {
        line.trim_end().trim_end_matches("[acme/admin]").trim_end() == prompt.trim_end()
    });
}

#[test]
fn bash_in_a_terminal_completes_on_tab() {
    need("bash");
    let bed = shell_bed();
    let rc = bed.dir.path().join("bashrc");
    std::fs::write(
        &rc,
        format!(
            "PS1='tfauth-test\\$ '\neval \"$(tfauth shell-init bash --alias)\"\nsource {}\n",
            shell_dir().join("prompt/bash-ps1.sh").display()
        ),
    )
    .unwrap();
    let t = Tmux::start(&bed, "tab", tmux_env(&[]), &format!("bash --noprofile --rcfile {} -i", rc.display()));
    let prompt = format!("tfauth-test{}", sign());
    t.wait("the prompt", |_, line| line.trim_end() == prompt.trim_end());
    tab_completes(&t, &prompt, "tfauth pl", "tfauth plan");
    tab_completes(&t, &prompt, "terraform plan analytics -s pl", "terraform plan analytics -s plat-use2-dev");
    tab_completes(
        &t,
        &prompt,
        "tfauth plan analytics --stack=plat-use2-d",
        "tfauth plan analytics --stack=plat-use2-dev",
    );
    tab_completes(&t, &prompt, "tfauth plan analytics --stack=", "tfauth plan analytics --stack=plat-use2-dev");
    tab_completes(&t, &prompt, "tofu plan vpc -i ops:", "tofu plan vpc -i ops:breakglass");
    tab_completes(
        &t,
        &prompt,
        "tfauth plan vpc -s plat-use2-dev -i acme/",
        "tfauth plan vpc -s plat-use2-dev -i acme/network",
    );
    // Nothing from tfauth: bash's default (file names), also after `=`.
    tab_completes(
        &t,
        &prompt,
        "tfauth plan vpc -s plat-use2-dev -var-file=stacks/orgs/acme/_d",
        "tfauth plan vpc -s plat-use2-dev -var-file=stacks/orgs/acme/_defaults.yaml",
    );
    // Several candidates: a second TAB lists them (the app stacks only).
    t.type_text("tfauth plan app --stack=plat-use2-");
    t.keys(&["Tab", "Tab"]);
    let screen = t.wait("the list of stacks", |screen, _| screen.contains("plat-use2-staging"));
    let listing = screen.lines().find(|l| l.contains("plat-use2-staging")).unwrap();
    let listed: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!(listed, ["plat-use2-dev", "plat-use2-prod", "plat-use2-staging"], "{screen}");
}

#[test]
fn zsh_in_a_terminal_completes_on_tab_with_compinit_after_shell_init() {
    need("zsh");
    let bed = shell_bed();
    let zdot = bed.dir.path().join("zdot");
    std::fs::create_dir_all(&zdot).unwrap();
    // shell-init before compinit: the completion is registered at the first prompt.
    std::fs::write(
        zdot.join(".zshrc"),
        format!(
            "PS1='tfauth-zsh> '\neval \"$(tfauth shell-init zsh --alias)\"\nautoload -Uz compinit && compinit -D -u\nsource {}\n",
            shell_dir().join("prompt/zsh-rprompt.zsh").display()
        ),
    )
    .unwrap();
    let env = tmux_env(&[("ZDOTDIR", zdot.to_str().unwrap()), ("TFAUTH_IDENTITY", "acme/admin")]);
    let t = Tmux::start(&bed, "zsh", env, "zsh -i");
    let prompt = "tfauth-zsh> ";
    // The right prompt shows the identity (no session file: the name alone).
    t.wait("the prompt with [acme/admin] on the right", |_, line| {
        line.starts_with(prompt) && line.trim_end().ends_with(" [acme/admin]")
    });
    tab_completes(&t, prompt, "tfauth plan analytics -s pl", "tfauth plan analytics -s plat-use2-dev");
    tab_completes(&t, prompt, "terraform plan app --stack=plat-usw2-d", "terraform plan app --stack=plat-usw2-dev");
    tab_completes(&t, prompt, "tofu plan vpc -i ops:b", "tofu plan vpc -i ops:breakglass");
    tab_completes(
        &t,
        prompt,
        "tfauth plan vpc -s plat-use2-dev -var-file=stacks/orgs/acme/_d",
        "tfauth plan vpc -s plat-use2-dev -var-file=stacks/orgs/acme/_defaults.yaml",
    );
    // Several candidates: listed with their descriptions in a column.
    t.type_text("tfauth a");
    t.keys(&["Tab"]);
    let screen = t.wait("the list of subcommands", |screen, _| screen.contains("-- Authentication"));
    assert!(
        screen.lines().any(|l| l.starts_with("apply  -- Create or update infrastructure")),
        "descriptions in a column: {screen}"
    );
}

#[test]
fn bash_in_a_terminal_shows_the_auth_shell_identity_in_the_prompt_until_exit() {
    need("bash");
    let bed = shell_bed();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    // github_env's variables, for the shell in tmux.
    let mut probe = Command::new("true");
    github_env(&mut probe, &moto, &token);
    let vars: Vec<(String, String)> = probe
        .get_envs()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.unwrap().to_string_lossy().into_owned()))
        .collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rc = bed.dir.path().join("bashrc");
    std::fs::write(
        &rc,
        format!(
            "PS1='tfauth-test\\$ '\neval \"$(tfauth shell-init bash --alias)\"\nsource {}\n",
            shell_dir().join("prompt/bash-ps1.sh").display()
        ),
    )
    .unwrap();
    let t = Tmux::start(&bed, "auth-shell", tmux_env(&vars), &format!("bash --noprofile --rcfile {} -i", rc.display()));
    let plain = format!("tfauth-test{}", sign());
    t.wait("the prompt", |_, line| line.trim_end() == plain.trim_end());
    // The inner shell reads the same rc file (`--` passes the arguments to $SHELL).
    t.type_text(&format!("tfauth auth shell -i plat-dev/terraform -- --noprofile --rcfile {} -i", rc.display()));
    t.keys(&["Enter"]);
    t.wait("the identity and its minutes left in the prompt", |_, line| {
        identity_segment(line, "tfauth-test", "plat-dev/terraform").is_some()
    });
    let line = t.cursor_line();
    let left = identity_segment(&line, "tfauth-test", "plat-dev/terraform").unwrap();
    assert!((50..=60).contains(&left), "moto's sessions last an hour: {line}");
    t.type_text("echo \"shlvl=<$TFAUTH_SHLVL> identity=<$TFAUTH_IDENTITY> atmos=<$ATMOS_IDENTITY>\"");
    t.keys(&["Enter"]);
    // ATMOS_IDENTITY too, as Atmos's shell sets it: `atmos` and tfauth inside use the same one.
    t.wait("TFAUTH_SHLVL 1", |screen, _| {
        screen.contains("shlvl=<1> identity=<plat-dev/terraform> atmos=<plat-dev/terraform>")
    });
    // The shell has the identity's credentials: the AWS CLI is the account's terraform role.
    t.type_text(&format!("{} sts get-caller-identity --query Arn --output text", venv_bin("aws").display()));
    t.keys(&["Enter"]);
    t.wait("the role's ARN", |screen, _| {
        screen.contains("arn:aws:sts::444444444444:assumed-role/acme-plat-gbl-dev-terraform/")
    });
    t.type_text("exit 7");
    t.keys(&["Enter"]);
    t.wait("the outer prompt", |_, line| line.trim_end() == plain.trim_end());
    t.type_text("echo \"status=<$?> identity=<${TFAUTH_IDENTITY-}> shlvl=<${TFAUTH_SHLVL-}>\"");
    t.keys(&["Enter"]);
    t.wait("exit code 7 and no identity", |screen, line| {
        screen.contains("status=<7> identity=<> shlvl=<>") && line.trim_end() == plain.trim_end()
    });
}

/// In `line`, `<prompt> [<identity> <time>]$ `: the minutes left (`42m`, `1h05m`).
fn identity_segment(line: &str, prompt: &str, identity: &str) -> Option<i64> {
    let rest = line.strip_prefix(&format!("{prompt} [{identity} "))?;
    let rest = rest.trim_end().strip_suffix(sign().trim_end())?.strip_suffix("m]")?;
    match rest.split_once('h') {
        Some((h, m)) => Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        None => rest.parse().ok(),
    }
}

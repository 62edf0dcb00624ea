//! Shell completion: what may come next on a `tfauth` command line.
//!
//! The shell scripts in `shell/` hand the words typed so far to `tfauth __complete -- WORD...`
//! (the last word is the one under the cursor, maybe empty) and show what it prints: one
//! candidate per line, `value` or `value<TAB>description`. The answer comes from the same
//! code that runs commands: subcommands and flags from the clap definition (so completion
//! cannot drift from the CLI), terraform's subcommands and tfauth's own run flags, and the
//! repository's components, stacks, identities, providers and profiles through [`Source`].
//!
//! [`complete`] is pure: it decides what kind of word is wanted and asks the source; the
//! I/O (loading `atmos.yaml`, the stack index) lives behind the trait, in `cli::complete`.

use clap::Command;

/// One completion: the word to insert and an optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: Option<String>,
}

impl Candidate {
    fn new(value: impl Into<String>, help: Option<&str>) -> Candidate {
        Candidate { value: value.into(), help: help.map(|h| h.lines().next().unwrap_or("").trim().to_string()) }
    }
    /// The protocol line: `value` or `value<TAB>description`.
    pub fn line(&self) -> String {
        match &self.help {
            Some(h) if !h.is_empty() => format!("{}\t{}", self.value, h),
            _ => self.value.clone(),
        }
    }
}

/// What the repository knows, asked only for the kind of word being completed.
pub trait Source {
    /// Runnable component names: of `stack` when given, else of every stack.
    fn components(&self, stack: Option<&str>) -> Vec<String>;
    /// Stack names: only those that define `component`, when given.
    fn stacks(&self, component: Option<&str>) -> Vec<String>;
    /// Identity names and kinds (of the component's merged auth, when both are given).
    fn identities(&self, component: Option<&str>, stack: Option<&str>) -> Vec<(String, String)>;
    /// Provider names and kinds.
    fn providers(&self) -> Vec<(String, String)>;
    /// Profile names that exist.
    fn profiles(&self) -> Vec<String>;
}

/// Terraform's subcommands, offered where tfauth passes a command on to terraform.
pub const TERRAFORM_COMMANDS: &[(&str, &str)] = &[
    ("init", "Prepare the component's working directory"),
    ("plan", "Show changes required by the current configuration"),
    ("apply", "Create or update infrastructure"),
    ("destroy", "Destroy previously-created infrastructure"),
    ("validate", "Check whether the configuration is valid"),
    ("output", "Show output values"),
    ("show", "Show the current state or a saved plan"),
    ("state", "Advanced state management"),
    ("import", "Associate existing infrastructure with a resource"),
    ("refresh", "Update the state to match remote systems"),
    ("workspace", "Workspace management"),
    ("console", "Try Terraform expressions at an interactive prompt"),
    ("providers", "Show the providers required for this configuration"),
    ("force-unlock", "Release a stuck lock on the current workspace"),
    ("taint", "Mark a resource instance as not fully functional"),
    ("untaint", "Remove the 'tainted' state from a resource instance"),
    ("graph", "Generate a Graphviz graph of the steps in an operation"),
    ("get", "Install or upgrade remote Terraform modules"),
    ("test", "Run the component's tests"),
    ("deploy", "apply -auto-approve, after init (Atmos)"),
    ("version", "Show the terraform version"),
];

/// tfauth's own flags on a terraform run, with whether they take a value.
pub const RUN_FLAGS: &[(&str, bool, &str)] = &[
    ("--stack", true, "The stack (name or manifest path)"),
    ("--identity", true, "The identity to use; `false` disables auth"),
    ("--profile", true, "Profiles to apply over atmos.yaml"),
    ("--dry-run", false, "Show what would run, write nothing"),
    ("--static-credentials", false, "Hand terraform keys instead of credential_process"),
    ("--no-browser", false, "Show the login URL without opening a browser"),
    ("--skip-init", false, "Do not run terraform init first"),
    ("--force", false, "Allow a run that would be refused"),
    ("--from-plan", false, "Apply the planfile of a previous plan"),
    ("--planfile", true, "The planfile to write or apply"),
    ("--skip-planfile", false, "Do not write a planfile"),
];

/// What kind of value a flag takes, for the flags whose values the repository knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wants {
    Stack,
    Component,
    Identity,
    Provider,
    Profile,
    /// `auth list --identities=a,b`: names only (no `false`).
    Identities,
    /// `auth console --destination`: Atmos's AWS and Azure aliases.
    Destination,
    Other,
}

/// Flags whose value is a comma-separated list: each element is completed on its own.
fn is_list(flag: &str) -> bool {
    matches!(flag, "--providers" | "--identities" | "--tags")
}

/// `a,b,c` typed so far: what stays before the element being completed, and that element.
fn split_list<'t>(flag: &str, typed: &'t str) -> (&'t str, &'t str) {
    match typed.rfind(',') {
        Some(i) if is_list(flag) => (&typed[..=i], &typed[i + 1..]),
        _ => ("", typed),
    }
}

fn wants(flag: &str) -> Wants {
    match flag {
        "-s" | "--stack" => Wants::Stack,
        "-c" | "--component" => Wants::Component,
        "-i" | "--identity" => Wants::Identity,
        "-p" | "--provider" | "--providers" => Wants::Provider,
        "--identities" => Wants::Identities,
        "--destination" => Wants::Destination,
        "--profile" => Wants::Profile,
        _ => Wants::Other,
    }
}

/// The words typed before the cursor, understood.
#[derive(Debug, Default)]
struct Line<'w> {
    /// clap subcommand path below the root (e.g. ["auth", "shell"]).
    path: Vec<String>,
    /// Positional words after the subcommand path (for a terraform run: the terraform
    /// subcommand, then the component, then terraform's own arguments).
    positionals: Vec<&'w str>,
    stack: Option<&'w str>,
    /// `-c`/`--component` (commands that take the component as a flag).
    component: Option<&'w str>,
    /// The command line passes a terraform subcommand through (not a clap command).
    terraform: bool,
    /// After `--`: words belong to another program.
    after_dashdash: bool,
}

/// Candidates for the last of `words` (the words after the program name).
pub fn complete(cli: &Command, words: &[String], src: &dyn Source) -> Vec<Candidate> {
    let Some((cur, before)) = words.split_last() else {
        return vec![];
    };
    let line = parse(cli, before);
    if line.after_dashdash {
        return vec![];
    }
    let cmd = subcommand(cli, &line.path);
    let component = component_of(&line, cmd);
    // `--flag=value`: complete the value, keep the flag.
    if let Some((flag, partial)) = cur.split_once('=').filter(|(f, _)| f.starts_with('-')) {
        let values = values_for(cli, cmd, &line, flag, src, component);
        let (done, partial) = split_list(flag, partial);
        return prefixed(values, partial, &format!("{flag}={done}"));
    }
    if let Some(prev) = before.last().map(String::as_str)
        && prev.starts_with('-')
        && !prev.contains('=')
        && takes_value(cmd, &line, prev)
    {
        let (done, partial) = split_list(prev, cur);
        return prefixed(values_for(cli, cmd, &line, prev, src, component), partial, done);
    }
    if cur.starts_with('-') {
        return prefixed(flags(cli, cmd, &line), cur, "");
    }
    let mut out = Vec::new();
    if line.terraform {
        match line.positionals.len() {
            // `tfauth plan <TAB>`: the component.
            1 => out = src.components(line.stack).into_iter().map(|c| Candidate::new(c, None)).collect(),
            // After the component, the stack flag is what is usually missing.
            2 if line.stack.is_none() => out.push(Candidate::new("--stack", Some("The stack (name or manifest path)"))),
            _ => {}
        }
        return prefixed(out, cur, "");
    }
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() && line.positionals.is_empty() {
        out.extend(subs.iter().map(|c| Candidate::new(c.get_name(), c.get_about().map(|a| a.to_string()).as_deref())));
        if line.path.is_empty() {
            out.extend(TERRAFORM_COMMANDS.iter().map(|(n, h)| Candidate::new(*n, Some(h))));
        }
    } else if let Some(arg) = cmd.get_positionals().nth(line.positionals.len()) {
        let is_identity = arg.get_value_names().is_some_and(|v| v.iter().any(|n| n.as_str() == "IDENTITY"));
        out = if arg.get_id() == "component" {
            src.components(line.stack).into_iter().map(|c| Candidate::new(c, None)).collect()
        } else if is_identity {
            let ids = src.identities(component, line.stack);
            ids.into_iter().map(|(n, k)| Candidate::new(n, Some(k.as_str()))).collect()
        } else {
            possible(arg)
        };
    }
    prefixed(out, cur, "")
}

/// Walks the words before the cursor: the subcommand path, the positionals, `-s`.
fn parse<'w>(cli: &Command, words: &'w [String]) -> Line<'w> {
    let mut line = Line::default();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        i += 1;
        if line.after_dashdash {
            continue;
        }
        if w == "--" {
            line.after_dashdash = true;
            continue;
        }
        if let Some(flag) = w.strip_prefix('-').map(|_| w) {
            if let Some((f, v)) = flag.split_once('=') {
                match wants(f) {
                    Wants::Stack => line.stack = Some(v),
                    Wants::Component => line.component = Some(v),
                    _ => {}
                }
                continue;
            }
            let cmd = subcommand(cli, &line.path);
            if takes_value(cmd, &line, flag) && i < words.len() {
                match wants(flag) {
                    Wants::Stack => line.stack = Some(words[i].as_str()),
                    Wants::Component => line.component = Some(words[i].as_str()),
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        let cmd = subcommand(cli, &line.path);
        if !line.terraform && line.positionals.is_empty() && cmd.find_subcommand(w).is_some() {
            line.path.push(cmd.find_subcommand(w).map(|c| c.get_name().to_string()).unwrap_or_default());
            continue;
        }
        if line.path.is_empty() && line.positionals.is_empty() {
            line.terraform = true;
        }
        line.positionals.push(w);
    }
    line
}

fn subcommand<'c>(cli: &'c Command, path: &[String]) -> &'c Command {
    path.iter().fold(cli, |c, name| c.find_subcommand(name).unwrap_or(c))
}

/// The component typed so far: a terraform run's second positional, or a clap command's
/// `component` argument.
fn component_of<'w>(line: &Line<'w>, cmd: &Command) -> Option<&'w str> {
    if line.terraform {
        return line.positionals.get(1).copied();
    }
    line.component.or_else(|| {
        let i = cmd.get_positionals().position(|a| a.get_id() == "component")?;
        line.positionals.get(i).copied()
    })
}

fn find_arg<'c>(cmd: &'c Command, flag: &str) -> Option<&'c clap::Arg> {
    if let Some(long) = flag.strip_prefix("--") {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|v| v.contains(&long)))
    } else {
        let c = flag.strip_prefix('-').and_then(|s| s.chars().next())?;
        cmd.get_arguments().find(|a| a.get_short() == Some(c))
    }
}

fn takes_value(cmd: &Command, line: &Line, flag: &str) -> bool {
    if line.terraform {
        return flag == "-s"
            || flag == "-i"
            || RUN_FLAGS.iter().any(|(f, v, _)| *f == flag && *v)
            || cmd.get_arguments().any(|a| a.get_long() == flag.strip_prefix("--") && a.get_action().takes_values());
    }
    find_arg(cmd, flag).is_some_and(|a| a.get_action().takes_values())
}

fn values_for(
    cli: &Command,
    cmd: &Command,
    line: &Line,
    flag: &str,
    src: &dyn Source,
    component: Option<&str>,
) -> Vec<Candidate> {
    let _ = cli;
    match wants(flag) {
        Wants::Stack => src.stacks(component).into_iter().map(|s| Candidate::new(s, None)).collect(),
        Wants::Component => src.components(line.stack).into_iter().map(|c| Candidate::new(c, None)).collect(),
        Wants::Identity => {
            let mut out: Vec<Candidate> = src
                .identities(component, line.stack)
                .into_iter()
                .map(|(n, k)| Candidate::new(n, Some(k.as_str())))
                .collect();
            out.push(Candidate::new("false", Some("run without tfauth's credentials")));
            out
        }
        Wants::Provider => src.providers().into_iter().map(|(n, k)| Candidate::new(n, Some(k.as_str()))).collect(),
        Wants::Profile => src.profiles().into_iter().map(|p| Candidate::new(p, None)).collect(),
        Wants::Identities => src
            .identities(component, line.stack)
            .into_iter()
            .map(|(n, k)| Candidate::new(n, Some(k.as_str())))
            .collect(),
        Wants::Destination => {
            let aws = super::console::destination::ALIASES.iter().map(|(a, _)| Candidate::new(*a, Some("AWS console")));
            let azure = super::console::azure::ALIASES.iter().map(|(a, _)| Candidate::new(*a, Some("Azure portal")));
            aws.chain(azure).collect()
        }
        Wants::Other => find_arg(cmd, flag).map(possible).unwrap_or_default(),
    }
}

fn possible(arg: &clap::Arg) -> Vec<Candidate> {
    arg.get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| Candidate::new(v.get_name(), v.get_help().map(|h| h.to_string()).as_deref()))
        .collect()
}

fn flags(cli: &Command, cmd: &Command, line: &Line) -> Vec<Candidate> {
    let mut out = Vec::new();
    if line.terraform {
        out.extend(RUN_FLAGS.iter().map(|(f, _, h)| Candidate::new(*f, Some(h))));
    }
    // Global flags live on the root; clap propagates them only when building.
    let mut seen = std::collections::HashSet::new();
    for a in cmd.get_arguments().chain(cli.get_arguments().filter(|a| a.is_global_set())) {
        if a.is_hide_set() || a.is_positional() {
            continue;
        }
        if let Some(long) = a.get_long() {
            let f = format!("--{long}");
            if seen.insert(f.clone()) && !out.iter().any(|c: &Candidate| c.value == f) {
                out.push(Candidate::new(f, a.get_help().map(|h| h.to_string()).as_deref()));
            }
        }
    }
    if !line.terraform {
        out.push(Candidate::new("--help", Some("Print help")));
    }
    out
}

/// Keeps the candidates that start with `typed` and puts `prefix` before each.
fn prefixed(candidates: Vec<Candidate>, typed: &str, prefix: &str) -> Vec<Candidate> {
    let mut seen = std::collections::HashSet::new();
    candidates
        .into_iter()
        .filter(|c| c.value.starts_with(typed) && seen.insert(c.value.clone()))
        .map(|c| Candidate { value: format!("{prefix}{}", c.value), help: c.help })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    struct Repo;
    impl Source for Repo {
        fn components(&self, stack: Option<&str>) -> Vec<String> {
            match stack {
                Some("plat-use2-dev") => vec!["vpc".into(), "eks".into()],
                Some(_) => vec!["vpc".into()],
                None => vec!["vpc".into(), "eks".into(), "dns".into()],
            }
        }
        fn stacks(&self, component: Option<&str>) -> Vec<String> {
            match component {
                Some("eks") => vec!["plat-use2-dev".into()],
                Some("vpc") | None => vec!["plat-use2-dev".into(), "plat-use2-prod".into()],
                Some(_) => vec![],
            }
        }
        fn identities(&self, _: Option<&str>, _: Option<&str>) -> Vec<(String, String)> {
            vec![("plat-dev/terraform".into(), "aws/assume-role".into()), ("acme-sso".into(), "x".into())]
        }
        fn providers(&self) -> Vec<(String, String)> {
            vec![("acme-sso".into(), "aws/iam-identity-center".into())]
        }
        fn profiles(&self) -> Vec<String> {
            vec!["developers".into(), "devops".into(), "github".into()]
        }
    }

    fn values(line: &str) -> Vec<String> {
        let mut words: Vec<String> = line.split(' ').map(String::from).collect();
        if line.is_empty() {
            words = vec![String::new()];
        }
        complete(&crate::cli::Cli::command(), &words, &Repo).into_iter().map(|c| c.value).collect()
    }

    #[test]
    fn subcommands_and_terraform_commands_at_the_root() {
        let v = values("");
        for want in ["auth", "describe", "list", "plan", "apply", "shell-init", "prompt"] {
            assert!(v.contains(&want.to_string()), "{want} missing from {v:?}");
        }
        assert!(!v.iter().any(|c| c.starts_with("__")), "hidden commands are not offered: {v:?}");
        assert_eq!(values("pl"), ["plan"]);
        assert!(values("auth ").contains(&"login".to_string()));
        assert!(values("auth sh").contains(&"shell".to_string()));
    }

    #[test]
    fn components_after_a_terraform_command_and_stacks_filtered_by_component() {
        assert_eq!(values("plan "), ["vpc", "eks", "dns"]);
        assert_eq!(values("plan -s plat-use2-prod "), ["vpc"]);
        assert_eq!(values("plan eks -s "), ["plat-use2-dev"]);
        assert_eq!(values("plan vpc --stack "), ["plat-use2-dev", "plat-use2-prod"]);
        assert_eq!(values("plan vpc --stack=plat-use2-p"), ["--stack=plat-use2-prod"]);
        assert_eq!(values("plan vpc "), ["--stack"]);
        assert_eq!(values("plan vpc -s plat-use2-dev "), Vec::<String>::new());
        assert_eq!(values("auth env eks -s "), ["plat-use2-dev"]);
        assert_eq!(values("auth env -s plat-use2-prod "), ["vpc"]);
        assert_eq!(values("list stacks -c "), ["vpc", "eks", "dns"]);
        assert_eq!(values("list stacks --component=e"), ["--component=eks"]);
        assert_eq!(values("auth logout "), ["plat-dev/terraform", "acme-sso"], "logout takes an identity");
    }

    #[test]
    fn identities_providers_profiles() {
        assert_eq!(values("plan vpc -s plat-use2-dev -i plat"), ["plat-dev/terraform"]);
        assert_eq!(values("auth shell --identity "), ["plat-dev/terraform", "acme-sso", "false"]);
        assert_eq!(values("auth login --provider "), ["acme-sso"]);
        assert_eq!(values("--profile "), ["developers", "devops", "github"]);
        assert_eq!(values("plan vpc --profile d"), ["developers", "devops"]);
        assert_eq!(values("auth env --profile=g"), ["--profile=github"]);
    }

    #[test]
    fn flags_and_values_from_the_cli_definition() {
        let v = values("auth env --f");
        assert!(v.contains(&"--format".to_string()), "{v:?}");
        assert!(values("auth env --format ").contains(&"fish".to_string()));
        assert!(values("plan vpc --d").contains(&"--dry-run".to_string()));
        assert!(values("auth env --").contains(&"--profile".to_string()), "global flags too");
        assert_eq!(values("auth exec -- aws s"), Vec::<String>::new(), "words after -- are another program's");
    }

    #[test]
    fn list_filters_complete_each_element_and_console_destinations_are_aliases() {
        assert_eq!(values("auth list --providers=a"), ["--providers=acme-sso"]);
        assert_eq!(values("auth list --providers acme-sso,"), ["acme-sso,acme-sso"], "the list goes on");
        assert_eq!(
            values("auth list --identities=plat-dev/terraform,acme"),
            ["--identities=plat-dev/terraform,acme-sso"]
        );
        assert!(!values("auth list --identities ").contains(&"false".to_string()), "names only");
        assert_eq!(values("auth login -p a"), ["acme-sso"]);
        let d = values("auth console --destination cloudf");
        assert_eq!(d, ["cloudformation", "cloudfront"]);
        assert!(values("auth console --destination=").contains(&"--destination=s3".to_string()));
    }

    #[test]
    fn protocol_line() {
        assert_eq!(Candidate::new("a", Some("b\nmore")).line(), "a\tb");
        assert_eq!(Candidate::new("a", None).line(), "a");
    }
}

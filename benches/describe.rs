//! End-to-end latency benchmark for `tfauth` on a large, realistic Atmos repository.
//!
//! # What is measured
//!
//! The bench first generates (into a temporary directory, using only `std`) an Atmos
//! repository of the size a mid-sized organisation ends up with:
//!
//! * `atmos.yaml` with `components`/`stacks` settings (`included_paths: ["orgs/**/*"]`,
//!   `excluded_paths: ["**/_defaults.yaml"]`, `name_pattern: "{tenant}-{environment}-{stage}"`)
//!   and an `auth:` section: one `github/oidc` provider (`gh`) and 40 `aws/assume-role`
//!   identities named `<tenant>-<stage>/terraform`, some of them chained 2–3 deep through
//!   `via: {identity: ...}`;
//! * 2,000 top-level stack manifests `stacks/orgs/acme/<tenant>/<stage>/<environment>.yaml`
//!   (10 tenants × 4 stages × 50 environments `e01`..`e50`), each importing a three-level
//!   `_defaults` chain (org → tenant → stage; the stage level selects the default identity),
//!   a region mixin, and 15 of the 300 catalog components, with inline overrides of three of
//!   them and some stack-level `vars`;
//! * 300 components: `stacks/catalog/cNNN.yaml` (an abstract `cNNN/defaults` with ~20 vars
//!   and a concrete `cNNN` inheriting it; every 10th one also overrides an identity's region
//!   in a component-level `auth:` section) and `components/terraform/cNNN/main.tf`.
//!
//! Everything is deterministic (fixed-seed PRNG), so runs are comparable across machines and
//! commits. It then runs the real `tfauth` binary as a subprocess — measuring wall-clock time
//! from spawn to exit, i.e. what a user or a Terraform credential helper actually waits for —
//! from the repository root with a clean environment (only `PATH`, plus `HOME`,
//! `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` pointing into a second temporary directory):
//!
//! * `tfauth describe component c150 -s <stack> --format json`
//! * `tfauth describe component c007 -s <stack> --format yaml`
//! * `tfauth plan c150 -s <stack> --dry-run`
//! * `tfauth auth validate`
//!
//! Each scenario gets 3 warm-up runs and then N timed runs (default 30). Any non-zero exit
//! aborts the bench with the command's stderr, so a broken CLI is loud. Results are printed
//! as a table (min / median / p90 / max in milliseconds) together with whether the
//! `describe component` medians meet their targets (15 ms with a warm stack index, 80 ms
//! with none); timing never makes the bench fail. The runs start 2 s after the repository
//! is written (see [`SETTLE`]).
//!
//! # Running
//!
//! ```text
//! cargo bench --bench describe
//! TFAUTH_BENCH_RUNS=100 cargo bench --bench describe   # more timed runs per scenario
//! TFAUTH_BENCH_KEEP=1 cargo bench --bench describe     # keep the generated repo for inspection
//! TFAUTH_BENCH_BASELINE=../old/target/release cargo bench --bench describe   # before/after
//! ```
//!
//! `TFAUTH_BENCH_BASELINE` names a directory holding another build's `tfauth` (say the
//! `target/release` of a checkout of the commit before a change). Every scenario is then also
//! run with that binary, interleaved run by run with ours (warm-ups too: ours, baseline, ours,
//! baseline, ...) so machine noise hits both alike, with a home directory of its own so the
//! two builds never read each other's stack index. The table gets a `(baseline)` row right
//! under each row and a note column: this build's median minus the baseline's, in ms and %.
//! A baseline that fails a scenario (an older build lacking a subcommand or flag) shows
//! `baseline failed: <reason>` in that row and the bench goes on; only our own binary
//! failing aborts. Without the variable the output is as described above.
//!
//! When the binary is started without `--bench` (e.g. by `cargo test --benches` or
//! `cargo test --all-targets`) it runs as a smoke test: no warm-up and one run per scenario,
//! unless `TFAUTH_BENCH_RUNS` says otherwise.

use std::error::Error;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

type BenchResult<T> = Result<T, Box<dyn Error>>;

// ---------------------------------------------------------------------------------------------
// Repository shape
// ---------------------------------------------------------------------------------------------

/// Organisation (Atmos `namespace`) all stacks live under.
const NAMESPACE: &str = "acme";
/// Tenants (`vars.tenant`).
const TENANTS: [&str; 10] = ["plat", "core", "data", "apps", "sec", "net", "ml", "web", "ops", "fin"];
/// Stages (`vars.stage`); every tenant has all of them.
const STAGES: [&str; 4] = ["sandbox", "dev", "staging", "prod"];
/// Environments per tenant/stage, named `e01`..`e50` (`vars.environment`).
const ENVIRONMENTS: usize = 50;
/// Number of top-level stack manifests.
const MANIFESTS: usize = TENANTS.len() * STAGES.len() * ENVIRONMENTS;
/// Number of catalog components, named `c001`..`c300`.
const COMPONENTS: usize = 300;
/// Catalog entries imported by every top-level manifest.
const IMPORTS_PER_STACK: usize = 15;
/// Imported components whose vars every manifest overrides inline.
const OVERRIDES_PER_STACK: usize = 3;
/// Every n-th component carries a component-level `auth:` section.
const AUTH_OVERRIDE_EVERY: usize = 10;
/// Regions handed out to environments (and to identity overrides), round-robin.
const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];
/// Seed of the PRNG choosing each manifest's catalog imports.
const SEED: u64 = 0x7f4a_7c15_2024_0150;

// The brief for this bench is "exactly 2,000 manifests"; keep the constants honest.
const _: () = assert!(MANIFESTS == 2_000);
const _: () = assert!(IMPORTS_PER_STACK <= COMPONENTS && OVERRIDES_PER_STACK <= IMPORTS_PER_STACK);

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

/// Untimed runs per scenario before measuring (page cache, dynamic loader, ...).
const WARMUP_RUNS: usize = 3;
/// Timed runs per scenario unless overridden by [`RUNS_ENV`].
const DEFAULT_RUNS: usize = 30;
/// Environment variable overriding the number of timed runs.
const RUNS_ENV: &str = "TFAUTH_BENCH_RUNS";
/// Environment variable that, when set to a non-empty value, keeps the generated repository.
const KEEP_ENV: &str = "TFAUTH_BENCH_KEEP";
/// Environment variable naming a directory with another build's `tfauth` to time beside ours.
const BASELINE_ENV: &str = "TFAUTH_BENCH_BASELINE";
/// Latency target for `describe component` with a warm stack index (median), reported but
/// never enforced.
const WARM_TARGET_MS: f64 = 15.0;
/// Latency target for `describe component` with no stack index (median), likewise.
const COLD_TARGET_MS: f64 = 80.0;
/// How long after generating the repository the bench waits before the first run: tfauth
/// does not trust the stamp of a directory changed in the last two seconds (a change in the
/// same tick of the clock would not show), and a repository a user works in was not all
/// written a moment ago.
const SETTLE: Duration = Duration::from_millis(2_100);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("describe bench: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> BenchResult<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let bench_mode = std::env::args().any(|arg| arg == "--bench");
    let (warmups, runs) = if bench_mode {
        (WARMUP_RUNS, runs_from_env()?.unwrap_or(DEFAULT_RUNS))
    } else {
        (0, runs_from_env()?.unwrap_or(1))
    };
    let keep = std::env::var_os(KEEP_ENV).is_some_and(|v| !v.is_empty());

    let mut repo_dir = tempfile::Builder::new().prefix("tfauth-bench-repo-").tempdir()?;
    let mut home_dir = tempfile::Builder::new().prefix("tfauth-bench-home-").tempdir()?;
    repo_dir.disable_cleanup(keep);
    home_dir.disable_cleanup(keep);

    let started = Instant::now();
    let repo = generate_repo(repo_dir.path())?;
    let generation = started.elapsed();

    println!(
        "repo: {} stack manifests, {} components, {} YAML files, {} bytes of YAML ({:.1} MiB); \
         generated in {:.0} ms",
        repo.stacks.len(),
        COMPONENTS,
        repo.yaml_files,
        repo.yaml_bytes,
        repo.yaml_bytes as f64 / (1024.0 * 1024.0),
        ms(generation),
    );
    if keep {
        println!("repo kept at {}", repo_dir.path().display());
    }
    std::thread::sleep(SETTLE);

    let scenarios = scenarios(&repo.stacks)?;
    // Each binary runs from a copy, as installed: a file the linker has just written starts
    // slower than the same bytes copied (more page faults; see benches/helper.rs,
    // `installed`), which would favour whichever side was copied.
    let bins = tempfile::Builder::new().prefix("tfauth-bench-bin-").tempdir()?;
    let installed = |from: &Path, dir: &str| -> BenchResult<std::path::PathBuf> {
        let to = bins.path().join(dir).join("tfauth");
        fs::create_dir_all(bins.path().join(dir))?;
        fs::copy(from, &to)?;
        Ok(to)
    };
    let runner =
        Runner::new(&installed(Path::new(env!("CARGO_BIN_EXE_tfauth")), "ours")?, repo_dir.path(), home_dir.path())?;
    // The baseline's own home: its stack index (maybe another format) never meets ours.
    let baseline_home = match std::env::var_os(BASELINE_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let mut home = tempfile::Builder::new().prefix("tfauth-bench-home-baseline-").tempdir()?;
            home.disable_cleanup(keep);
            // Absolute: the runs start in the repository.
            Some((installed(&std::path::absolute(dir)?.join("tfauth"), "baseline")?, home))
        }
        None => None,
    };
    let baseline = match &baseline_home {
        Some((bin, home)) => Some(Runner::new(bin, repo_dir.path(), home.path())?),
        None => None,
    };
    if let Some(b) = &baseline {
        println!("baseline ({BASELINE_ENV}): {}, timed interleaved with this build", b.bin.display());
    }
    if !bench_mode {
        println!("smoke-test mode (no `--bench` argument): {runs} run(s) per scenario, no warm-up");
    }
    println!();

    let mut results = Vec::with_capacity(scenarios.len());
    for scenario in &scenarios {
        results.push(measure(scenario, &runner, baseline.as_ref(), warmups, runs)?);
    }

    print_table(&results, baseline.is_some());
    println!();
    if !bench_mode {
        println!("smoke test only (debug build, one cold run): timings say nothing about the target");
        return Ok(());
    }
    for m in &results {
        let Some(target) = m.scenario.target_ms else { continue };
        let verdict = if m.ours.median <= target { "ok" } else { "MISSED" };
        println!("target {target:.0} ms: {verdict} (median {:.2} ms, tfauth {})", m.ours.median, m.scenario.label);
    }
    Ok(())
}

/// One scenario's timings: ours, and the baseline's or why it failed.
struct Measured<'a> {
    scenario: &'a Scenario,
    ours: Stats,
    baseline: Option<Result<Stats, String>>,
}

/// Warm-ups, then timed runs of `scenario`; with a baseline, every run of ours is followed
/// by one of the baseline's. Our failure aborts; the baseline's first failure ends its runs
/// and becomes the reason in its row.
fn measure<'a>(
    scenario: &'a Scenario,
    ours: &Runner,
    baseline: Option<&Runner>,
    warmups: usize,
    runs: usize,
) -> BenchResult<Measured<'a>> {
    let (mut samples, mut theirs) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut failed = None;
    for i in 0..warmups + runs {
        let t = ours.run(scenario).map_err(|f| f.long)?;
        if i >= warmups {
            samples.push(t);
        }
        if let Some(runner) = baseline.filter(|_| failed.is_none()) {
            match runner.run(scenario) {
                Ok(t) if i >= warmups => theirs.push(t),
                Ok(_) => {}
                Err(f) => failed = Some(f.short),
            }
        }
    }
    let baseline = baseline.map(|_| match failed {
        Some(why) => Err(why),
        None => Ok(Stats::from_samples(&theirs)),
    });
    Ok(Measured { scenario, ours: Stats::from_samples(&samples), baseline })
}

/// Reads [`RUNS_ENV`]; `None` when unset.
fn runs_from_env() -> BenchResult<Option<usize>> {
    match std::env::var(RUNS_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(err) => Err(format!("{RUNS_ENV}: {err}").into()),
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{RUNS_ENV} must be a positive integer, got {value:?}").into()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios and subprocess runner
// ---------------------------------------------------------------------------------------------

/// One command line to time.
struct Scenario {
    /// Arguments after `tfauth`, joined with spaces (used in the table).
    label: String,
    args: Vec<String>,
    /// `describe` scenarios and completions must print something.
    is_describe: bool,
    /// Remove tfauth's cache (the stack-name index) before every run: the first run after
    /// a clone or an edit to every manifest.
    cold: bool,
    /// The median this scenario should stay under (`describe component`, warm and cold).
    target_ms: Option<f64>,
}

impl Scenario {
    /// `command_line` is split on whitespace (no argument here contains any).
    fn new(command_line: &str) -> Self {
        let args: Vec<String> = command_line.split_whitespace().map(str::to_owned).collect();
        Self {
            label: args.join(" "),
            is_describe: args.first().is_some_and(|arg| arg == "describe"),
            target_ms: args.first().is_some_and(|arg| arg == "describe").then_some(WARM_TARGET_MS),
            args,
            cold: false,
        }
    }

    /// A completion request: `tfauth __complete -- WORDS ""` (the empty word under the
    /// cursor cannot survive whitespace splitting). Must print candidates.
    fn complete(words: &str) -> Self {
        let mut args: Vec<String> = vec!["__complete".into(), "--".into()];
        args.extend(words.split_whitespace().map(str::to_owned));
        args.push(String::new());
        Self { label: format!("complete: {words} <TAB>"), args, is_describe: true, cold: false, target_ms: None }
    }

    fn cold(mut self) -> Self {
        self.cold = true;
        self.target_ms = self.target_ms.map(|_| COLD_TARGET_MS);
        self.label = format!("{}  (cold: no stack index)", self.label);
        self
    }
}

/// Builds the scenarios, choosing stacks that really import the described components.
fn scenarios(stacks: &[Stack]) -> BenchResult<Vec<Scenario>> {
    // c150 carries a component-level `auth:` section; prefer a stack whose default identity is
    // the one that section overrides, so the merged auth config is actually exercised.
    let c150_auth = component_auth_override(150);
    let c150_stack = pick_stack(stacks, 150, None, |s| {
        c150_auth.is_some_and(|(tenant, stage, _)| s.tenant == tenant && s.stage == stage)
    })?;
    // c007 has no auth override; use a `staging` stack of another tenant.
    let c007_stack = pick_stack(stacks, 7, Some(c150_stack), |s| s.stage == 2 && s.tenant != c150_stack.tenant)?;
    let (s150, s007) = (&c150_stack.name, &c007_stack.name);

    Ok(vec![
        Scenario::new(&format!("describe component c150 -s {s150} --format json")),
        Scenario::new(&format!("describe component c150 -s {s150} --format json")).cold(),
        Scenario::new(&format!("describe component c007 -s {s007} --format yaml")),
        Scenario::new(&format!("plan c150 -s {s150} --dry-run")),
        Scenario::new("auth validate"),
        Scenario::complete("plan"),
        Scenario::complete("plan c150 -s"),
        Scenario::complete("plan c150 -s").cold(),
        Scenario::complete(&format!("plan c150 -s {s150} -i")),
    ])
}

/// First stack (in generation order) importing `component` and satisfying `prefer`, falling
/// back to the first stack importing it at all. `exclude` is never returned.
fn pick_stack<'a>(
    stacks: &'a [Stack],
    component: usize,
    exclude: Option<&Stack>,
    prefer: impl Fn(&Stack) -> bool,
) -> BenchResult<&'a Stack> {
    let candidates = || {
        stacks.iter().filter(move |s| {
            s.components.binary_search(&component).is_ok() && exclude.is_none_or(|excluded| excluded.name != s.name)
        })
    };
    candidates()
        .find(|s| prefer(s))
        .or_else(|| candidates().next())
        .ok_or_else(|| format!("no generated stack imports {}", component_name(component)).into())
}

/// Spawns a `tfauth` binary from the repository root with a minimal, isolated environment.
struct Runner {
    bin: PathBuf,
    repo: PathBuf,
    home: PathBuf,
    path: Option<OsString>,
}

/// A run that failed: the whole story (command, status, output) and one line for a table.
struct Failure {
    long: String,
    short: String,
}

impl From<String> for Failure {
    fn from(long: String) -> Self {
        Self { short: long.lines().next().unwrap_or_default().to_owned(), long }
    }
}

impl Runner {
    fn new(bin: &Path, repo: &Path, home: &Path) -> BenchResult<Self> {
        for dir in [".config", ".cache"] {
            fs::create_dir_all(home.join(dir))?;
        }
        Ok(Self {
            bin: bin.to_path_buf(),
            repo: repo.to_path_buf(),
            home: home.to_path_buf(),
            path: std::env::var_os("PATH"),
        })
    }

    /// Runs `scenario` once and returns its wall-clock time (spawn to exit, output drained).
    fn run(&self, scenario: &Scenario) -> Result<Duration, Failure> {
        if scenario.cold {
            let cache = self.home.join(".cache/tfauth");
            if cache.exists() {
                fs::remove_dir_all(&cache).map_err(|err| format!("removing {}: {err}", cache.display()))?;
            }
        }
        let mut cmd = Command::new(&self.bin);
        cmd.args(&scenario.args)
            .current_dir(&self.repo)
            .env_clear()
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }

        let started = Instant::now();
        let output = cmd.output().map_err(|err| format!("cannot run {}: {err}", self.bin.display()))?;
        let elapsed = started.elapsed();

        if !output.status.success() {
            let mut msg = format!(
                "`tfauth {}` in {} exited with {} (set {KEEP_ENV}=1 to keep the repo)\n\
                 --- stderr ---\n{}",
                scenario.label,
                self.repo.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end(),
            );
            if output.stderr.is_empty() {
                let stdout = String::from_utf8_lossy(&output.stdout);
                let head: String = stdout.chars().take(4_000).collect();
                let _ = write!(msg, "\n--- stdout (first 4000 chars) ---\n{}", head.trim_end());
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no stderr");
            return Err(Failure { long: msg, short: format!("{}: {last}", output.status) });
        }
        if scenario.is_describe && output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(format!("`tfauth {}` exited 0 but printed nothing", scenario.label).into());
        }
        Ok(elapsed)
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and reporting
// ---------------------------------------------------------------------------------------------

/// Summary of one scenario's timed runs, in milliseconds.
struct Stats {
    runs: usize,
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

impl Stats {
    fn from_samples(samples: &[Duration]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().map(ms).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        assert!(n > 0, "at least one timed run");
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        // Nearest-rank percentile: the smallest sample with at least 90% of samples <= it.
        let p90_rank = (n * 9).div_ceil(10).max(1);
        Self { runs: n, min: sorted[0], median, p90: sorted[p90_rank - 1], max: sorted[n - 1] }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The table; with a baseline, a `(baseline)` row under each row and a note column.
fn print_table(results: &[Measured], with_baseline: bool) {
    const BASELINE: &str = " (baseline)";
    let suffix = if with_baseline { BASELINE.len() } else { 0 };
    let width = results.iter().map(|m| m.scenario.label.len() + suffix).chain(["scenario".len()]).max().unwrap_or(0);
    let note = if with_baseline { "  note" } else { "" };
    println!(
        "{:<width$}  {:>5}  {:>9}  {:>9}  {:>9}  {:>9}{note}",
        "scenario", "runs", "min ms", "median ms", "p90 ms", "max ms"
    );
    println!("{}", "-".repeat(width + 2 + 5 + 4 * (2 + 9)));
    let row = |label: &str, s: &Stats, note: &str| {
        let line = format!(
            "{label:<width$}  {:>5}  {:>9.2}  {:>9.2}  {:>9.2}  {:>9.2}  {note}",
            s.runs, s.min, s.median, s.p90, s.max
        );
        println!("{}", line.trim_end());
    };
    for m in results {
        row(&m.scenario.label, &m.ours, "");
        let label = format!("{}{BASELINE}", m.scenario.label);
        match &m.baseline {
            None => {}
            Some(Ok(base)) => {
                let diff = m.ours.median - base.median;
                let pct = diff / base.median.max(1e-9) * 100.0;
                row(&label, base, &format!("this build {diff:+.2} ms ({pct:+.1}%) vs baseline"));
            }
            Some(Err(why)) => {
                println!(
                    "{label:<width$}  {:>5}  {:>9}  {:>9}  {:>9}  {:>9}  baseline failed: {why}",
                    "-", "-", "-", "-", "-"
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Repository generator
// ---------------------------------------------------------------------------------------------

/// A generated top-level stack manifest.
struct Stack {
    /// Atmos stack name, `<tenant>-<environment>-<stage>`.
    name: String,
    /// Index into [`TENANTS`].
    tenant: usize,
    /// Index into [`STAGES`].
    stage: usize,
    /// Imported catalog components (numbers, ascending).
    components: Vec<usize>,
}

struct GeneratedRepo {
    /// Top-level stacks in generation order (tenant, stage, environment).
    stacks: Vec<Stack>,
    yaml_files: usize,
    yaml_bytes: u64,
}

/// Writes files below a root directory and keeps count of the YAML written.
struct TreeWriter {
    root: PathBuf,
    yaml_files: usize,
    yaml_bytes: u64,
}

impl TreeWriter {
    fn write(&mut self, relative: &str, contents: &str) -> BenchResult<()> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|err| format!("creating {}: {err}", parent.display()))?;
        }
        fs::write(&path, contents).map_err(|err| format!("writing {}: {err}", path.display()))?;
        if relative.ends_with(".yaml") {
            self.yaml_files += 1;
            self.yaml_bytes += contents.len() as u64;
        }
        Ok(())
    }
}

/// Small deterministic PRNG (SplitMix64), so the generated repository is identical everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough integer in `0..n` (modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn component_name(n: usize) -> String {
    format!("c{n:03}")
}

fn environment_name(e: usize) -> String {
    format!("e{e:02}")
}

fn region_of_environment(e: usize) -> &'static str {
    REGIONS[(e - 1) % REGIONS.len()]
}

fn identity_name(tenant: usize, stage: usize) -> String {
    format!("{}-{}/terraform", TENANTS[tenant], STAGES[stage])
}

/// Twelve-digit AWS account id of a tenant/stage pair.
fn account_id(tenant: usize, stage: usize) -> u64 {
    210_000_000_000 + (tenant * STAGES.len() + stage) as u64 * 1_010_101
}

/// The identity a tenant/stage identity is chained from, or `None` to use the `gh` provider.
///
/// Even tenants chain `prod -> staging -> dev -> gh` (3 deep), odd tenants `prod -> dev -> gh`.
fn identity_parent(tenant: usize, stage: usize) -> Option<usize> {
    match (STAGES[stage], tenant.is_multiple_of(2)) {
        ("staging", true) => Some(1),
        ("prod", true) => Some(2),
        ("prod", false) => Some(1),
        _ => None,
    }
}

/// Identity (tenant, stage) and region that component `n`'s `auth:` section overrides, for
/// every [`AUTH_OVERRIDE_EVERY`]-th component.
fn component_auth_override(n: usize) -> Option<(usize, usize, &'static str)> {
    n.is_multiple_of(AUTH_OVERRIDE_EVERY).then(|| {
        let k = n / AUTH_OVERRIDE_EVERY;
        (k % TENANTS.len(), k % STAGES.len(), REGIONS[k % REGIONS.len()])
    })
}

fn generate_repo(root: &Path) -> BenchResult<GeneratedRepo> {
    let mut out = TreeWriter { root: root.to_path_buf(), yaml_files: 0, yaml_bytes: 0 };

    out.write("atmos.yaml", &atmos_yaml()?)?;

    for n in 1..=COMPONENTS {
        let name = component_name(n);
        out.write(&format!("stacks/catalog/{name}.yaml"), &catalog_yaml(n)?)?;
        out.write(&format!("components/terraform/{name}/main.tf"), &main_tf(n)?)?;
    }

    for e in 1..=ENVIRONMENTS {
        let env = environment_name(e);
        let region = region_of_environment(e);
        let yaml = format!("vars:\n  environment: {env}\n  region: {region}\n");
        out.write(&format!("stacks/mixins/region/{env}.yaml"), &yaml)?;
    }

    out.write(&format!("stacks/orgs/{NAMESPACE}/_defaults.yaml"), &org_defaults_yaml()?)?;

    let mut rng = SplitMix64(SEED);
    let mut stacks = Vec::with_capacity(MANIFESTS);
    for (t, tenant) in TENANTS.iter().enumerate() {
        out.write(&format!("stacks/orgs/{NAMESPACE}/{tenant}/_defaults.yaml"), &tenant_defaults_yaml(t)?)?;
        for (s, stage) in STAGES.iter().enumerate() {
            out.write(
                &format!("stacks/orgs/{NAMESPACE}/{tenant}/{stage}/_defaults.yaml"),
                &stage_defaults_yaml(t, s)?,
            )?;
            for e in 1..=ENVIRONMENTS {
                // Draw distinct catalog entries; the first few drawn get inline overrides.
                let mut drawn = Vec::with_capacity(IMPORTS_PER_STACK);
                while drawn.len() < IMPORTS_PER_STACK {
                    let c = 1 + rng.below(COMPONENTS);
                    if !drawn.contains(&c) {
                        drawn.push(c);
                    }
                }
                let overrides = drawn[..OVERRIDES_PER_STACK].to_vec();
                drawn.sort_unstable();

                let env = environment_name(e);
                let stack = Stack { name: format!("{tenant}-{env}-{stage}"), tenant: t, stage: s, components: drawn };
                out.write(
                    &format!("stacks/orgs/{NAMESPACE}/{tenant}/{stage}/{env}.yaml"),
                    &stack_yaml(&stack, e, stacks.len(), &overrides)?,
                )?;
                stacks.push(stack);
            }
        }
    }

    Ok(GeneratedRepo { stacks, yaml_files: out.yaml_files, yaml_bytes: out.yaml_bytes })
}

fn atmos_yaml() -> BenchResult<String> {
    let mut y = String::with_capacity(16 * 1024);
    y.push_str(
        r#"# Generated by tfauth's `describe` bench.
base_path: "."

components:
  terraform:
    base_path: components/terraform
    apply_auto_approve: false
    deploy_run_init: true

stacks:
  base_path: stacks
  included_paths:
    - "orgs/**/*"
  excluded_paths:
    - "**/_defaults.yaml"
  name_pattern: "{tenant}-{environment}-{stage}"

logs:
  level: Info

auth:
  providers:
    gh:
      kind: github/oidc
      region: us-east-2
      spec:
        audience: sts.amazonaws.com
  identities:
"#,
    );
    for (t, tenant) in TENANTS.iter().enumerate() {
        for (s, stage) in STAGES.iter().enumerate() {
            writeln!(y, "    {}:", identity_name(t, s))?;
            writeln!(y, "      kind: aws/assume-role")?;
            writeln!(y, "      via:")?;
            match identity_parent(t, s) {
                Some(parent) => writeln!(y, "        identity: {}", identity_name(t, parent))?,
                None => writeln!(y, "        provider: gh")?,
            }
            writeln!(y, "      principal:")?;
            writeln!(
                y,
                "        assume_role: \"arn:aws:iam::{:012}:role/{NAMESPACE}-{tenant}-gbl-{stage}-terraform\"",
                account_id(t, s),
            )?;
            writeln!(y, "        session_name: tfauth-bench")?;
        }
    }
    Ok(y)
}

fn org_defaults_yaml() -> BenchResult<String> {
    let mut y = String::new();
    writeln!(y, "vars:")?;
    writeln!(y, "  namespace: {NAMESPACE}")?;
    writeln!(y, "  label_order: [namespace, tenant, environment, stage, name, attributes]")?;
    writeln!(y, "  tags:")?;
    writeln!(y, "    Organization: {NAMESPACE}")?;
    writeln!(y, "    ManagedBy: atmos")?;
    writeln!(y)?;
    writeln!(y, "terraform:")?;
    writeln!(y, "  backend_type: s3")?;
    writeln!(y, "  backend:")?;
    writeln!(y, "    s3:")?;
    writeln!(y, "      bucket: {NAMESPACE}-tfstate")?;
    writeln!(y, "      region: us-east-2")?;
    writeln!(y, "      encrypt: true")?;
    writeln!(y, "      use_lockfile: true")?;
    Ok(y)
}

fn tenant_defaults_yaml(t: usize) -> BenchResult<String> {
    let tenant = TENANTS[t];
    let mut y = String::new();
    writeln!(y, "import:")?;
    writeln!(y, "  - orgs/{NAMESPACE}/_defaults")?;
    writeln!(y)?;
    writeln!(y, "vars:")?;
    writeln!(y, "  tenant: {tenant}")?;
    writeln!(y, "  tags:")?;
    writeln!(y, "    Tenant: {tenant}")?;
    writeln!(y, "    CostCenter: \"cc-{:04}\"", 1000 + t * 17)?;
    Ok(y)
}

fn stage_defaults_yaml(t: usize, s: usize) -> BenchResult<String> {
    let (tenant, stage) = (TENANTS[t], STAGES[s]);
    let mut y = String::new();
    writeln!(y, "import:")?;
    writeln!(y, "  - orgs/{NAMESPACE}/{tenant}/_defaults")?;
    writeln!(y)?;
    writeln!(y, "vars:")?;
    writeln!(y, "  stage: {stage}")?;
    writeln!(y, "  account_id: \"{:012}\"", account_id(t, s))?;
    writeln!(y)?;
    writeln!(y, "auth:")?;
    writeln!(y, "  identities:")?;
    writeln!(y, "    {}:", identity_name(t, s))?;
    writeln!(y, "      default: true")?;
    Ok(y)
}

/// `stacks/catalog/cNNN.yaml`: an abstract base with ~20 vars and a concrete component.
fn catalog_yaml(n: usize) -> BenchResult<String> {
    let name = component_name(n);
    let tier = ["frontend", "backend", "data", "shared"][n % 4];
    let mut y = String::with_capacity(2048);
    writeln!(y, "components:")?;
    writeln!(y, "  terraform:")?;
    writeln!(y, "    {name}/defaults:")?;
    writeln!(y, "      metadata:")?;
    writeln!(y, "        type: abstract")?;
    writeln!(y, "        component: {name}")?;
    writeln!(y, "      settings:")?;
    writeln!(y, "        owner: team-{}", n % 12)?;
    writeln!(y, "      vars:")?;
    writeln!(y, "        enabled: true")?;
    writeln!(y, "        name: {name}")?;
    writeln!(y, "        description: \"Component {name}, managed by Atmos\"")?;
    writeln!(y, "        instance_type: {}", ["t3.small", "t3.medium", "m6i.large"][n % 3])?;
    writeln!(y, "        instance_count: {}", 1 + n % 4)?;
    writeln!(y, "        min_size: 1")?;
    writeln!(y, "        max_size: {}", 2 + n % 6)?;
    writeln!(y, "        cpu: {}.{}", n % 4, (n * 7) % 10)?;
    writeln!(y, "        memory_mb: {}", 512 * (1 + n % 8))?;
    writeln!(y, "        retention_days: {}", [7, 14, 30, 90][n % 4])?;
    writeln!(y, "        enable_logging: true")?;
    writeln!(y, "        enable_monitoring: {}", n.is_multiple_of(2))?;
    writeln!(y, "        deletion_protection: {}", !n.is_multiple_of(3))?;
    writeln!(y, "        kms_alias: \"alias/{NAMESPACE}-{name}\"")?;
    writeln!(y, "        schedule: \"cron(0 {} * * ? *)\"", n % 24)?;
    writeln!(y, "        cidr_block: \"10.{}.{}.0/24\"", n / 256, n % 256)?;
    writeln!(y, "        availability_zones:")?;
    for az in ["a", "b", "c"] {
        writeln!(y, "          - \"{az}\"")?;
    }
    writeln!(y, "        allowed_ports: [443, {}]", 8000 + n)?;
    writeln!(y, "        labels:")?;
    writeln!(y, "          tier: {tier}")?;
    writeln!(y, "          criticality: {}", ["low", "medium", "high"][n % 3])?;
    writeln!(y, "          data:")?;
    writeln!(y, "            classification: internal")?;
    writeln!(y, "            pii: {}", n.is_multiple_of(5))?;
    writeln!(y, "        tags:")?;
    writeln!(y, "          Component: {name}")?;
    writeln!(y, "          Tier: {tier}")?;
    writeln!(y)?;
    writeln!(y, "    {name}:")?;
    writeln!(y, "      metadata:")?;
    writeln!(y, "        component: {name}")?;
    writeln!(y, "        inherits:")?;
    writeln!(y, "          - {name}/defaults")?;
    writeln!(y, "      vars:")?;
    writeln!(y, "        name: {name}-primary")?;
    writeln!(y, "        instance_count: {}", 2 + n % 3)?;
    writeln!(y, "        enable_monitoring: true")?;
    if let Some((t, s, region)) = component_auth_override(n) {
        writeln!(y, "      auth:")?;
        writeln!(y, "        identities:")?;
        writeln!(y, "          {}:", identity_name(t, s))?;
        writeln!(y, "            principal:")?;
        writeln!(y, "              region: {region}")?;
    }
    Ok(y)
}

/// `components/terraform/cNNN/main.tf`; the content is irrelevant to `tfauth`.
fn main_tf(n: usize) -> BenchResult<String> {
    let mut tf = String::new();
    writeln!(tf, "variable \"enabled\" {{")?;
    writeln!(tf, "  type        = bool")?;
    writeln!(tf, "  description = \"Whether {} creates any resources\"", component_name(n))?;
    writeln!(tf, "  default     = true")?;
    writeln!(tf, "}}")?;
    Ok(tf)
}

/// A top-level stack manifest: imports, stack-level vars and inline component overrides.
fn stack_yaml(stack: &Stack, e: usize, index: usize, overrides: &[usize]) -> BenchResult<String> {
    let (tenant, stage) = (TENANTS[stack.tenant], STAGES[stack.stage]);
    let env = environment_name(e);
    let mut y = String::with_capacity(2048);
    writeln!(y, "# {} ({})", stack.name, region_of_environment(e))?;
    writeln!(y, "import:")?;
    writeln!(y, "  - orgs/{NAMESPACE}/{tenant}/{stage}/_defaults")?;
    writeln!(y, "  - mixins/region/{env}")?;
    for &c in &stack.components {
        writeln!(y, "  - catalog/{}", component_name(c))?;
    }
    writeln!(y)?;
    writeln!(y, "vars:")?;
    writeln!(y, "  dns_zone: {env}.{stage}.{tenant}.{NAMESPACE}.example.com")?;
    writeln!(y, "  budget_usd: {}", 500 + (index * 37) % 9_500)?;
    writeln!(y, "  maintenance_window: \"sun:0{}:00-sun:0{}:30\"", e % 6, e % 6)?;
    writeln!(y, "  tags:")?;
    writeln!(y, "    Stack: {}", stack.name)?;
    writeln!(y, "    Environment: {env}")?;
    writeln!(y)?;
    writeln!(y, "components:")?;
    writeln!(y, "  terraform:")?;
    for (k, &c) in overrides.iter().enumerate() {
        writeln!(y, "    {}:", component_name(c))?;
        writeln!(y, "      vars:")?;
        writeln!(y, "        instance_count: {}", 1 + (index + k) % 5)?;
        writeln!(y, "        enable_logging: {}", (index + k).is_multiple_of(2))?;
        writeln!(y, "        labels:")?;
        writeln!(y, "          criticality: {}", ["low", "medium", "high"][(index + k) % 3])?;
        writeln!(y, "        tags:")?;
        writeln!(y, "          Override: \"{}#{k}\"", stack.name)?;
    }
    Ok(y)
}

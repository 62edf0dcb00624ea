//! Benchmark of the credential path (`cargo bench --bench helper`), printed as a table.
//!
//! - warm `atmos-auth-helper` (a valid cache entry named by `--key`), at least 500 calls,
//!   beside `/bin/cat` of a small file (the cost of starting a process at all) and the
//!   AWS CLI v2 (`/usr/bin/aws`, Debian's `awscli`) running `aws configure
//!   export-credentials` on a profile with static keys, its fastest path;
//! - warm `atmos-auth-helper gcp gke token` and `... azure aks token` (a cached bearer token);
//! - warm `tfauth aws eks token` and `atmos-auth-helper aws eks token` (the kubeconfig exec
//!   plugin: the same cache entry, a local SigV4 presign, one ExecCredential) beside the floor and `aws eks get-token` of the
//!   AWS CLI v2 (static keys; it presigns locally too);
//! - the limit: a minimal std-only reader of the same entry (compiled here with rustc), and
//!   the static musl helper of the release archives when `shell/release.sh` built it;
//! - the cold path: one AssumeRoleWithWebIdentity against moto (from the integration
//!   virtualenv, `integration/setup`), cache emptied before each call;
//! - the wrapper: `tfauth plan vpc -s plat-use2-dev` with a warm cache and `/bin/true` as
//!   terraform, from start to the end of the exec'd program.
//!
//! The floor, the warm helper (and its baseline's), the minimal reader and the static helper
//! are timed together, round by round (`time_together`), so their ratios to the floor hold
//! however the machine drifts during the run; every other row's ratio is to that floor too.
//! Each binary is timed from a copy in a temporary directory, as installed (`installed`
//! says why). Timings only print; nothing here fails on a number. Rows whose tools are missing say so.
//!
//! Before and after: `TFAUTH_BENCH_BASELINE=DIR cargo bench --bench helper`, where `DIR`
//! holds another build's `tfauth` and `atmos-auth-helper` (e.g. `target/release` of a
//! checkout of the old commit), also times every row that runs one of our binaries with
//! `DIR`'s copy, interleaved run by run with ours (ours, baseline, ours, baseline, ...) so
//! machine noise hits both alike. Each such row gets a `(baseline)` row right under it whose
//! note is this build's median minus the baseline's, in ms and %. A baseline that cannot run
//! a row (it exits non-zero, say for a flag it lacks) shows `baseline failed: <reason>` there;
//! only our own binaries failing aborts. Without the variable the table is as above.
//! Our side is the binary `cargo bench` builds, with the dev-dependencies' features unified
//! into it. None of them may turn on a feature of a normal dependency (insta's regex
//! `filters` did: regex-syntax's Unicode tables, 180 KB more data relocated at every start,
//! about +0.2 ms here, so the snapshots mask by hand), or the bench stops timing what
//! `cargo build --release` ships.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One of our binaries: this build's copy, and its file name in a baseline directory.
#[derive(Clone, Copy)]
struct Bin {
    ours: &'static str,
    name: &'static str,
}

const HELPER: Bin = Bin { ours: env!("CARGO_BIN_EXE_atmos-auth-helper"), name: "atmos-auth-helper" };
const TFAUTH: Bin = Bin { ours: env!("CARGO_BIN_EXE_tfauth"), name: "tfauth" };
/// Names a directory holding another build's binaries to time beside ours.
const BASELINE_ENV: &str = "TFAUTH_BENCH_BASELINE";
/// Width of the scenario column (wider with a baseline, so each pair of rows lines up).
const NAME_WIDTH: usize = 66;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let scale = if bench { 1 } else { 50 };
    // Absolute: the rows run from directories of their own.
    let baseline = std::env::var_os(BASELINE_ENV)
        .filter(|v| !v.is_empty())
        .map(|dir| std::path::absolute(dir).expect(BASELINE_ENV));
    let tmp = tempfile::tempdir().unwrap();
    // Every binary is timed from a copy, as installed: see `installed`.
    let ours_dir = installed_pair(
        |name| PathBuf::from(if name == HELPER.name { HELPER.ours } else { TFAUTH.ours }),
        &tmp.path().join("ours"),
    )
    .unwrap_or_else(|e| panic!("copying this build's binaries: {e}"));
    let baseline = baseline.map(|dir| {
        installed_pair(|name| dir.join(name), &tmp.path().join("baseline"))
            .unwrap_or_else(|e| panic!("copying {}: {e}", dir.display()))
    });
    let ours = |runs: usize, bin: Bin, make: &dyn Fn(&Path) -> Command| {
        time_ours(runs, bin, &ours_dir, baseline.as_deref(), make)
    };
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = |c: &mut Command| {
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("CI", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut rows = Rows::default();

    // Warm helper: a cache entry written through the library, as a run would leave it.
    let key = "0123456789abcdef0123456789abcdef";
    let cache_env = tfauth::env_vars::Env::from_pairs([("XDG_CACHE_HOME", home.join(".cache").display().to_string())]);
    let cache = tfauth::session::cache::Cache::new(&cache_env, "aws").unwrap();
    let now = time::OffsetDateTime::now_utc();
    cache
        .write(
            key,
            &tfauth::session::cache::Credentials {
                access_key_id: "ASIABENCHMARK".into(),
                secret_access_key: tfauth::secret::Secret::new("bench-secret"),
                session_token: Some(tfauth::secret::Secret::new("bench-token")),
                expiration: Some(now + Duration::from_secs(3600)),
                issued: Some(now),
            },
        )
        .unwrap();
    let entry = cache.entry_path(key);

    // The warm path's group, timed together round by round (`time_together`), so that its
    // ratios to the floor are not tilted by the machine drifting between one block of runs
    // and the next (seen here: the same floor 0.61 ms in one block, 0.74 in another).
    // The process floor: /bin/cat of a small file.
    let small = tmp.path().join("small.json");
    std::fs::write(&small, "{\"Version\":1}\n").unwrap();
    // The limit: a minimal std-only program that does what the warm path must (read the
    // entry, find its expiration, compare it with now, print), compiled here with rustc -O.
    let reader = minimal_reader(tmp.path());
    // The static binary the release archives hold (shell/release.sh), when it was built.
    let musl = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release/atmos-auth-helper");
    let musl = musl.exists().then(|| {
        installed(&musl, &tmp.path().join("musl"), "atmos-auth-helper")
            .unwrap_or_else(|e| panic!("copying {}: {e}", musl.display()))
    });
    let helper = |bin: &Path| {
        let mut c = Command::new(bin);
        env(&mut c);
        c.args(["--identity", "acme/planner", "--key", key]);
        c
    };
    let mut group = vec![
        Member::must(|| {
            let mut c = Command::new("/bin/cat");
            env(&mut c);
            c.arg(&small);
            c
        }),
        Member::must(|| helper(&ours_dir.join(HELPER.name))),
    ];
    if let Some(dir) = &baseline {
        group.push(Member::may_fail(move || helper(&dir.join(HELPER.name))));
    }
    if let Ok(reader) = &reader {
        let entry = &entry;
        group.push(Member::must(move || {
            let mut c = Command::new(reader);
            env(&mut c);
            c.arg(entry);
            c
        }));
    }
    if let Some(musl) = &musl {
        group.push(Member::must(move || helper(musl)));
    }
    let mut timed = time_together(500 / scale, group).into_iter();
    let mut next = || timed.next().expect("one result per member");
    let together = "timed together with the floor";
    rows.push("/bin/cat small file (process floor)", Some(next().unwrap()), together.into());
    let warm = Timed { ours: next().unwrap(), baseline: baseline.as_ref().map(|_| next()) };
    rows.push_ours("atmos-auth-helper, warm cache", &warm, together.into());
    let name = "minimal reader of the same cache entry (the limit)";
    match reader {
        Ok(_) => rows.push(name, Some(next().unwrap()), together.into()),
        Err(why) => rows.push(name, None, why),
    }
    let name = "atmos-auth-helper, warm, static musl (shell/release.sh)";
    match musl {
        Some(_) => rows.push(name, Some(next().unwrap()), together.into()),
        None => rows.push(name, None, "not built: run shell/release.sh".into()),
    }

    // The prompt segment, as a shell prompt runs it on every line (target: under 5 ms).
    let session = cache.entry_path(key);
    let prompt = ours(500 / scale, TFAUTH, &|bin| {
        let mut c = Command::new(bin);
        env(&mut c);
        c.env("TFAUTH_IDENTITY", "acme/planner").env("TFAUTH_SESSION", &session).arg("prompt");
        c
    });
    rows.push_ours("tfauth prompt (identity + minutes left)", &prompt, "target < 5 ms".into());
    // The same answer from the small binary, which the shell snippets run.
    let small_prompt = ours(500 / scale, HELPER, &|bin| {
        let mut c = Command::new(bin);
        env(&mut c);
        c.env("TFAUTH_IDENTITY", "acme/planner").env("TFAUTH_SESSION", &session).arg("prompt");
        c
    });
    rows.push_ours("atmos-auth-helper prompt (what the shell snippets run)", &small_prompt, String::new());

    // The EKS token plugin, warm: the same cache entry, presigned locally, one
    // ExecCredential printed (what kubectl runs before every command).
    let eks = ours(500 / scale, TFAUTH, &|bin| {
        let mut c = Command::new(bin);
        env(&mut c);
        c.args(["aws", "eks", "token", "--cluster-name", "dev", "--region", "us-east-2", "-i", "acme/planner"])
            .args(["--key", key]);
        c
    });
    rows.push_ours("tfauth aws eks token, warm cache", &eks, String::new());
    // What the kubeconfigs tfauth writes run: the same words through the small binary.
    let eks = ours(500 / scale, HELPER, &|bin| {
        let mut c = Command::new(bin);
        env(&mut c);
        c.args(["aws", "eks", "token", "--cluster-name", "dev", "--region", "us-east-2", "-i", "acme/planner"])
            .args(["--key", key]);
        c
    });
    rows.push_ours("atmos-auth-helper aws eks token (kubeconfig plugin), warm", &eks, String::new());

    // The GKE and AKS plugins, warm: a cached bearer token, printed as an ExecCredential.
    for (kind, words, audience, name) in [
        (
            tfauth::session::bearer::Kind::Gke,
            &["gcp", "gke", "token"][..],
            None,
            "atmos-auth-helper gcp gke token (kubeconfig plugin), warm",
        ),
        (
            tfauth::session::bearer::Kind::Aks,
            &["azure", "aks", "token", "--server-id", tfauth::providers::aks::AKS_SERVER_APP_ID][..],
            Some(tfauth::providers::aks::AKS_SERVER_APP_ID),
            "atmos-auth-helper azure aks token (kubeconfig plugin), warm",
        ),
    ] {
        let entry = tfauth::session::bearer::entry_key(key, audience);
        let bearer = tfauth::session::bearer::Bearer {
            token: tfauth::secret::Secret::new("bench-bearer-token"),
            expires: now + Duration::from_secs(3600),
        };
        tfauth::session::bearer::store(&cache_env, kind, &entry, "bench", &bearer).unwrap();
        let timed = ours(500 / scale, HELPER, &|bin| {
            let mut c = Command::new(bin);
            env(&mut c);
            c.args(words).args(["-i", "bench", "--key", key]);
            c
        });
        rows.push_ours(name, &timed, String::new());
    }

    // AWS CLI v2, static keys (its fastest path).
    let aws = Path::new("/usr/bin/aws");
    let aws_v2 = aws.exists()
        && Command::new(aws)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("aws-cli/2"));
    if aws_v2 {
        let cfg = tmp.path().join("aws-config");
        std::fs::write(
            &cfg,
            "[profile bench]\naws_access_key_id = AKIABENCH\naws_secret_access_key = secret\nregion = us-east-1\n",
        )
        .unwrap();
        rows.push(
            "aws configure export-credentials (CLI v2, static keys)",
            Some(time(40 / scale.min(40), || {
                let mut c = Command::new(aws);
                env(&mut c);
                c.env("AWS_CONFIG_FILE", &cfg).args(["configure", "export-credentials", "--profile", "bench"]);
                c
            })),
            String::new(),
        );
        rows.push(
            "aws eks get-token --cluster-name dev (CLI v2, static keys)",
            Some(time(40 / scale.min(40), || {
                let mut c = Command::new(aws);
                env(&mut c);
                c.env("AWS_CONFIG_FILE", &cfg).args([
                    "eks",
                    "get-token",
                    "--cluster-name",
                    "dev",
                    "--profile",
                    "bench",
                ]);
                c
            })),
            String::new(),
        );
    } else {
        rows.push("aws configure export-credentials (CLI v2)", None, "not installed: apt-get install awscli".into());
        rows.push("aws eks get-token (CLI v2)", None, "not installed: apt-get install awscli".into());
    }

    // Cold path and wrapper overhead need moto.
    let venv = std::env::var_os("TFAUTH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/.venv"));
    if venv.join("bin/moto_server").exists() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut moto = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && started.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        // A copy: a run writes the varfile and backend.tf.json into the component directory.
        let examples = tmp.path().join("repo");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &examples);
        std::fs::create_dir_all(examples.join(".git")).unwrap();
        let sts = format!("http://127.0.0.1:{port}");
        let github = |c: &mut Command| {
            env(c);
            c.env("ATMOS_PROFILE", "github")
                .env("ACTIONS_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
                .env("AWS_ENDPOINT_URL_STS", &sts)
                .current_dir(&examples);
        };
        let aws_cache = home.join(".cache/tfauth/aws");
        let cold = ours(30 / scale.min(30), HELPER, &|bin| {
            let _ = std::fs::remove_dir_all(&aws_cache);
            let mut c = Command::new(bin);
            github(&mut c);
            c.args(["--identity", "acme/planner"]);
            c
        });
        rows.push_ours("atmos-auth-helper, cold (1 AssumeRoleWithWebIdentity, moto)", &cold, String::new());
        let wrapper = ours(100 / scale, TFAUTH, &|bin| {
            let mut c = Command::new(bin);
            github(&mut c);
            c.env("ATMOS_COMPONENTS_TERRAFORM_COMMAND", "/bin/true").args([
                "plan",
                "dns",
                "-s",
                "plat-use2-dev",
                "--skip-init",
            ]);
            c
        });
        // The whole run: files, `init` and `workspace select` as children, then the exec.
        let full = ours(100 / scale, TFAUTH, &|bin| {
            let mut c = Command::new(bin);
            github(&mut c);
            c.env("ATMOS_COMPONENTS_TERRAFORM_COMMAND", "/bin/true").args(["plan", "dns", "-s", "plat-use2-dev"]);
            c
        });
        let floor_true = time(100 / scale, || {
            let mut c = Command::new("/bin/true");
            env(&mut c);
            c
        });
        rows.push_ours(
            "tfauth plan dns -s plat-use2-dev --skip-init, warm, terraform=/bin/true",
            &wrapper,
            format!("overhead over /bin/true: {:.2} ms", ms(wrapper.ours.median.saturating_sub(floor_true.median))),
        );
        rows.push_ours(
            "tfauth plan dns -s plat-use2-dev (init+workspace steps), /bin/true",
            &full,
            format!("overhead over 3x /bin/true: {:.2} ms", ms(full.ours.median.saturating_sub(floor_true.median * 3))),
        );
        let _ = moto.kill();
        let _ = moto.wait();
    } else {
        rows.push("cold path and wrapper overhead", None, "need moto: run integration/setup".into());
    }

    if let Some(dir) = &baseline {
        println!("baseline ({BASELINE_ENV}): {}, timed interleaved with this build", dir.display());
        println!();
    }
    let width =
        if baseline.is_some() { rows.0.iter().map(|r| r.0.len()).fold(NAME_WIDTH, usize::max) } else { NAME_WIDTH };
    let floor = rows.0[0].1.map(|s| s.median);
    println!(
        "{:<width$} {:>6} {:>9} {:>9} {:>9} {:>8}  note",
        "scenario", "runs", "min ms", "median", "p90", "x floor"
    );
    println!("{}", "-".repeat(width + 53));
    for (name, stats, note) in &rows.0 {
        match stats {
            Some(s) => println!(
                "{name:<width$} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>8.2}  {note}",
                s.runs,
                ms(s.min),
                ms(s.median),
                ms(s.p90),
                floor.map_or(f64::NAN, |f| ratio(s.median, f)),
            ),
            None => println!("{name:<width$} {:>6} {:>9} {:>9} {:>9} {:>8}  {note}", "-", "-", "-", "-", "-"),
        }
    }
    if !bench {
        println!("\nsmoke test only (few runs): timings say nothing about the targets");
        return;
    }
    let floor = rows.0[0].1.unwrap().median;
    let warm = warm.ours;
    println!();
    println!(
        "warm helper median {:.2} ms: target < 2 ms: {}",
        ms(warm.median),
        verdict(warm.median < Duration::from_millis(2))
    );
    println!(
        "warm helper / process floor: {:.2}x: target <= 1.2x: {}",
        ratio(warm.median, floor),
        verdict(warm.median * 5 <= floor * 6)
    );
    if let Some(Some(stat)) = rows.0.iter().find(|r| r.0.contains("static musl")).map(|r| r.1) {
        println!(
            "warm helper, static musl / process floor: {:.2}x: target <= 1.2x: {}",
            ratio(stat.median, floor),
            verdict(stat.median * 5 <= floor * 6)
        );
    }
    if let Some(Some(cli)) = rows.0.iter().find(|r| r.0.contains("CLI v2")).map(|r| r.1) {
        println!(
            "AWS CLI v2 / warm helper: {:.0}x: target >= 200x: {}",
            ratio(cli.median, warm.median),
            verdict(cli.median >= warm.median * 200)
        );
    }
    let eks = eks.ours;
    println!(
        "warm eks token / process floor: {:.2}x: target <= 1.5x: {}",
        ratio(eks.median, floor),
        verdict(eks.median * 2 <= floor * 3)
    );
    if let Some(Some(cli)) = rows.0.iter().find(|r| r.0.starts_with("aws eks get-token")).map(|r| r.1) {
        println!(
            "aws eks get-token (CLI v2) / warm eks token: {:.0}x: target >= 200x: {}",
            ratio(cli.median, eks.median),
            verdict(cli.median >= eks.median * 200)
        );
    }
    if let Some(Some(w)) = rows.0.iter().find(|r| r.0.starts_with("tfauth plan")).map(|r| r.1) {
        println!(
            "wrapper median {:.2} ms (incl. /bin/true): target overhead < 20 ms: {}",
            ms(w.median),
            verdict(w.median < Duration::from_millis(20))
        );
    }
}

#[derive(Clone, Copy)]
struct Stats {
    runs: usize,
    min: Duration,
    median: Duration,
    p90: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Self {
        let runs = samples.len();
        samples.sort();
        Stats { runs, min: samples[0], median: samples[runs / 2], p90: samples[(runs * 9 / 10).min(runs - 1)] }
    }
}

/// The table: scenario, timings (`None`: not run), note.
#[derive(Default)]
struct Rows(Vec<(String, Option<Stats>, String)>);

impl Rows {
    fn push(&mut self, name: &str, stats: Option<Stats>, note: String) {
        self.0.push((name.into(), stats, note));
    }

    /// Our row, then the baseline's right under it when there is one.
    fn push_ours(&mut self, name: &str, timed: &Timed, note: String) {
        self.push(name, Some(timed.ours), note);
        let name = format!("{name} (baseline)");
        match &timed.baseline {
            None => {}
            Some(Ok(base)) => {
                let (a, b) = (ms(timed.ours.median), ms(base.median));
                let note = format!("this build {:+.2} ms ({:+.1}%) vs baseline", a - b, (a - b) / b.max(1e-9) * 100.0);
                self.push(&name, Some(*base), note);
            }
            Some(Err(why)) => self.push(&name, None, format!("baseline failed: {why}")),
        }
    }
}

/// One of our scenarios: this build's timings, and the baseline's (or why it failed).
struct Timed {
    ours: Stats,
    baseline: Option<Result<Stats, String>>,
}

/// Times a tool that is not ours; it must succeed.
fn time(runs: usize, mut make: impl FnMut() -> Command) -> Stats {
    Stats::of((0..runs.max(1)).map(|_| must(make())).collect())
}

/// Times `bin` as `make` builds its command for a binary path, and with a baseline directory
/// the baseline's copy too, together round by round ([`time_together`]). Our failure
/// panics; the baseline's first failure ends its runs and becomes its row's reason.
fn time_ours(
    runs: usize,
    bin: Bin,
    ours_dir: &Path,
    baseline: Option<&Path>,
    make: &dyn Fn(&Path) -> Command,
) -> Timed {
    let mine = ours_dir.join(bin.name);
    let theirs = baseline.map(|dir| dir.join(bin.name));
    let mut group = vec![Member::must(|| make(&mine))];
    if let Some(path) = &theirs {
        group.push(Member::may_fail(|| make(path)));
    }
    let mut timed = time_together(runs, group).into_iter();
    let ours = timed.next().expect("ours").expect("ours must succeed");
    Timed { ours, baseline: timed.next() }
}

/// One command of a group timed together (`time_together`).
struct Member<'a> {
    make: Box<dyn FnMut() -> Command + 'a>,
    /// A baseline's: its first failure ends its runs and becomes its result.
    may_fail: bool,
}

impl<'a> Member<'a> {
    fn must(make: impl FnMut() -> Command + 'a) -> Self {
        Member { make: Box::new(make), may_fail: false }
    }

    fn may_fail(make: impl FnMut() -> Command + 'a) -> Self {
        Member { make: Box::new(make), may_fail: true }
    }
}

/// Times the members round by round, each once per round in order, so whatever the machine
/// does over the run (its clock, its caches, other load) touches all of them alike and their
/// ratios to one another hold. One result per member, in order; a member that must succeed
/// and fails panics.
fn time_together(runs: usize, mut members: Vec<Member>) -> Vec<Result<Stats, String>> {
    let mut samples: Vec<Result<Vec<Duration>, String>> = members.iter().map(|_| Ok(Vec::new())).collect();
    for _ in 0..runs.max(1) {
        for (member, times) in members.iter_mut().zip(&mut samples) {
            let Ok(list) = times else { continue };
            let mut c = (member.make)();
            match run_once(&mut c) {
                Ok(t) => list.push(t),
                Err(why) if member.may_fail => *times = Err(why),
                Err(why) => panic!("{c:?} failed: {why}"),
            }
        }
    }
    samples.into_iter().map(|s| s.map(Stats::of)).collect()
}

/// A copy of the binary `from` at `dir/name` (`dir` created), as `cargo install` or
/// unpacking an archive leaves it. The file a linker has just written starts measurably
/// slower than the same bytes copied (here 0.1 to 0.35 ms more per start, with more page
/// faults: its page cache is in smaller pieces), which would tilt every comparison towards
/// whichever side was copied; so every binary timed here, ours, the baseline's, the static
/// one and the minimal reader, is a copy.
fn installed(from: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let to = dir.join(name);
    std::fs::copy(from, &to)?;
    Ok(to)
}

/// `tfauth` and `atmos-auth-helper` copied side by side into `dir` (the helper execs the
/// `tfauth` beside it on a miss); `path` gives each one's source.
fn installed_pair(path: impl Fn(&str) -> PathBuf, dir: &Path) -> std::io::Result<PathBuf> {
    // A baseline without one of them fails only the rows that run it.
    for bin in [HELPER, TFAUTH] {
        let from = path(bin.name);
        if from.exists() {
            installed(&from, dir, bin.name)?;
        }
    }
    Ok(dir.to_path_buf())
}

/// Compiles the minimal reader (std only) into `dir` with the toolchain's rustc.
fn minimal_reader(dir: &Path) -> Result<PathBuf, String> {
    let src = dir.join("minimal_reader.rs");
    std::fs::write(
        &src,
        r#"
use std::io::Write;
fn main() {
    let path = std::env::args_os().nth(1).expect("a file");
    let text = std::fs::read_to_string(path).expect("readable");
    let at = text.find("\"Expiration\":\"").expect("an expiration") + 14;
    let expiration = &text[at..at + 20];
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let now = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60);
    if expiration <= now.as_str() { std::process::exit(1) }
    std::io::stdout().lock().write_all(text.as_bytes()).unwrap();
}
"#,
    )
    .map_err(|e| e.to_string())?;
    let out = dir.join("minimal_reader");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let o = Command::new(rustc)
        .args(["-O", "--edition", "2021", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    if !o.status.success() {
        return Err(format!("rustc failed: {}", String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("")));
    }
    installed(&out, &dir.join("installed"), "minimal_reader").map_err(|e| format!("copying the minimal reader: {e}"))
}

/// One timed run that must succeed.
fn must(mut c: Command) -> Duration {
    run_once(&mut c).unwrap_or_else(|why| panic!("{c:?} failed: {why}"))
}

/// One timed run, spawn to exit. On failure it is run again, untimed, for its stderr's last line.
fn run_once(c: &mut Command) -> Result<Duration, String> {
    let t = Instant::now();
    let status = c.status().map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))?;
    let elapsed = t.elapsed();
    if status.success() {
        return Ok(elapsed);
    }
    let stderr = c.stderr(Stdio::piped()).output().map(|o| o.stderr).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr);
    match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(last) => Err(format!("{status}: {last}")),
        None => Err(status.to_string()),
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

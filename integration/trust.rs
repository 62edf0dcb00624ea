//! Files and directories someone else controls (issue 14, defects 3, 7 and 8): tfauth and
//! the helper trust only what is the user's own, follow no symlink where secrets live,
//! read only regular files, and say what is wrong with exit 74 and a hint. The tests run
//! as root and become other users with `setpriv` (util-linux) where ownership matters.

use super::support::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VICTIM: u32 = 4242;
const ATTACKER: u32 = 4343;
const PLANTED: &str = "AKIAPLANTEDATTACKER1";
const IDENTITY: &str = "bg/admin";

/// A bed with an aws/user identity whose keys come from the environment, and a role it
/// assumes on moto: a chain that refreshes with no terminal and no token endpoint.
fn user_bed() -> Bed {
    let bed = Bed::new();
    std::fs::write(
        bed.repo().join("profiles/github/zz-user.yaml"),
        "auth:\n  identities:\n    breakglass: {kind: aws/user, region: us-east-2, credentials: {access_key_id: AKIATRUSTTESTKEY0000, secret_access_key: !env BG_SECRET}}\n    bg/admin: {kind: aws/assume-role, via: {identity: breakglass}, principal: {assume_role: \"arn:aws:iam::111111111111:role/bg\"}}\n",
    )
    .unwrap();
    bed
}

/// The helper for [`IDENTITY`], as `uid` (None: as the test's own user), with the cache
/// and config homes given.
fn helper(bed: &Bed, moto: &Moto, uid: Option<u32>, args: &[&str]) -> Command {
    let mut c = match uid {
        Some(uid) => {
            let mut c = bed.cmd("setpriv");
            let id = uid.to_string();
            c.args(["--reuid", &id, "--regid", &id, "--clear-groups", HELPER]);
            c
        }
        None => bed.cmd(HELPER),
    };
    c.env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("BG_SECRET", "trust-test-secret")
        .args(["--identity", IDENTITY, "--config"])
        .arg(bed.repo().join("atmos.yaml"))
        .args(args);
    c
}

fn chown(path: &Path, uid: u32) {
    let status = Command::new("chown").arg("-hR").arg(format!("{uid}:{uid}")).arg(path).status().unwrap();
    assert!(status.success());
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Lets other uids reach the bed: its root and the repository readable, HOME the victim's.
fn open_bed_to_victim(bed: &Bed) {
    chmod(bed.dir.path(), 0o755);
    chown(&bed.home(), VICTIM);
    chmod(&bed.home(), 0o700);
}

/// The cache key of [`IDENTITY`]'s chain, from the entry a first refresh wrote.
fn real_key(bed: &Bed, moto: &Moto) -> String {
    let o = run(helper(bed, moto, None, &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let dir = bed.home().join(".cache/tfauth/aws");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn planted_entry() -> String {
    format!(
        r#"{{"Version":1,"AccessKeyId":"{PLANTED}","SecretAccessKey":"planted-secret","SessionToken":"planted-token","Expiration":"2099-01-01T00:00:00Z"}}"#
    )
}

#[test]
fn a_cache_planted_by_another_user_is_never_served_warm_or_cold() {
    let bed = user_bed();
    let moto = Moto::start();
    open_bed_to_victim(&bed);
    // A shared cache root, as on some CI runners: root's, sticky, world-writable. The
    // attacker got there first and made tfauth's directories, wide open, with an entry.
    let shared = bed.dir.path().join("shared-cache");
    std::fs::create_dir_all(shared.join("tfauth/aws")).unwrap();
    chmod(&shared, 0o1777);
    let key = "0123456789abcdef0123456789abcdef";
    std::fs::write(shared.join(format!("tfauth/aws/{key}.json")), planted_entry()).unwrap();
    chown(&shared.join("tfauth"), ATTACKER);
    chmod(&shared.join("tfauth"), 0o777);
    chmod(&shared.join("tfauth/aws"), 0o777);

    let mut c = helper(&bed, &moto, Some(VICTIM), &["--key", key]);
    c.env("XDG_CACHE_HOME", &shared);
    let o = run(c);
    assert!(!o.stdout.contains(PLANTED), "the victim was handed the attacker's keys: {}", o.stdout);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("is owned by uid {ATTACKER}, not by you (uid {VICTIM})")), "{}", o.stderr);
    assert!(o.stderr.contains("hint: "), "{}", o.stderr);
    // Nothing of the victim's was written into the attacker's tree.
    let victims: Vec<PathBuf> = walk_all(&shared).into_iter().filter(|p| owner(p) == VICTIM).collect();
    assert!(victims.is_empty(), "{victims:?}");
}

#[test]
fn a_cache_entry_owned_by_another_user_in_our_own_directory_is_replaced_not_served() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    open_bed_to_victim(&bed);
    // The victim's own directory, but the entry in it is someone else's (left by root or
    // by an earlier, wider directory): not served; refreshed and replaced.
    let entry = bed.home().join(format!(".cache/tfauth/aws/{key}.json"));
    std::fs::write(&entry, planted_entry()).unwrap();
    chown(&entry, ATTACKER);
    chmod(&entry, 0o666);
    let o = run(helper(&bed, &moto, Some(VICTIM), &["--key", &key]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains(PLANTED), "{}", o.stdout);
    assert!(o.stdout.contains("\"AccessKeyId\":\"ASIA"), "{}", o.stdout);
    assert!(o.stderr.contains(&format!("is owned by uid {ATTACKER}")), "the refusal is said: {}", o.stderr);
    assert_eq!(owner(&entry), VICTIM, "replaced by the victim's own entry");
    assert_eq!(mode(&entry), 0o600);
}

#[test]
fn an_attacker_owned_config_directory_is_refused_and_nothing_is_written_into_it() {
    let bed = user_bed();
    let moto = Moto::start();
    open_bed_to_victim(&bed);
    let shared = bed.dir.path().join("shared-config");
    std::fs::create_dir_all(shared.join("atmos")).unwrap();
    chmod(&shared, 0o1777);
    chown(&shared.join("atmos"), ATTACKER);
    chmod(&shared.join("atmos"), 0o777);
    let mut c = bed.cmd("setpriv");
    let id = VICTIM.to_string();
    c.args(["--reuid", &id, "--regid", &id, "--clear-groups", TFAUTH, "auth", "exec", "--identity", IDENTITY])
        .args(["--", "true"])
        .env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("BG_SECRET", "trust-test-secret")
        .env("XDG_CONFIG_HOME", &shared);
    let o = run(c);
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("{} is owned by uid {ATTACKER}", shared.join("atmos").display())),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: "), "{}", o.stderr);
    let victims: Vec<PathBuf> = walk_all(&shared).into_iter().filter(|p| owner(p) == VICTIM).collect();
    assert!(victims.is_empty(), "the victim wrote into the attacker's directory: {victims:?}");
}

#[test]
fn links_where_secrets_live_are_not_followed() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    let aws_cache = bed.home().join(".cache/tfauth/aws");
    let elsewhere = bed.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    chmod(&elsewhere, 0o755);
    std::fs::write(elsewhere.join("victim-file"), "keep me").unwrap();

    // An entry that links to another file: refused, replaced by a real entry, the target kept.
    let entry = aws_cache.join(format!("{key}.json"));
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("victim-file"), &entry).unwrap();
    let o = run(helper(&bed, &moto, None, &["--key", &key]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("is a symbolic link"), "{}", o.stderr);
    assert!(!std::fs::symlink_metadata(&entry).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(elsewhere.join("victim-file")).unwrap(), "keep me");

    // A lock that is a link to a file that does not exist: not created through.
    std::fs::remove_file(&entry).unwrap();
    let lock = aws_cache.join(format!("{key}.lock"));
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(elsewhere.join("created-by-lock"), &lock).unwrap();
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("{} is a symbolic link", lock.display())), "{}", o.stderr);
    assert!(o.stderr.contains("hint: remove the link"), "{}", o.stderr);
    assert!(!elsewhere.join("created-by-lock").exists(), "the lock's link target was created");
    std::fs::remove_file(&lock).unwrap();

    // The cache directory itself a link: neither followed nor chmod'ed.
    std::fs::remove_dir_all(&aws_cache).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &aws_cache).unwrap();
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert_eq!(mode(&elsewhere), 0o755, "the link's target was chmod'ed");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1, "something was written through the link");
}

#[test]
fn a_planted_link_in_the_config_tree_never_reaches_the_users_own_aws_files() {
    let bed = user_bed();
    let moto = Moto::start();
    let exec = |bed: &Bed| {
        let mut c = bed.cmd(TFAUTH);
        c.args(["auth", "exec", "--identity", IDENTITY, "--", "true"])
            .env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("BG_SECRET", "trust-test-secret");
        run(c)
    };
    let o = exec(&bed);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // `<config>/atmos/<realm>/aws/<root>`: the root's directory, replaced by a link to ~/.aws.
    let aws = std::fs::read_dir(bed.home().join(".config/atmos"))
        .unwrap()
        .flatten()
        .map(|realm| realm.path().join("aws"))
        .find(|p| p.is_dir())
        .expect("the AWS files were written");
    let root = std::fs::read_dir(&aws).unwrap().flatten().next().unwrap().path();
    std::fs::remove_dir_all(&root).unwrap();
    let dot_aws = bed.home().join(".aws");
    std::fs::create_dir_all(&dot_aws).unwrap();
    std::fs::write(dot_aws.join("config"), "[default]\nregion = eu-west-1\n").unwrap();
    std::os::unix::fs::symlink(&dot_aws, &root).unwrap();
    let o = exec(&bed);
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains("is a symbolic link"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(dot_aws.join("config")).unwrap(), "[default]\nregion = eu-west-1\n");
    assert_eq!(std::fs::read_dir(&dot_aws).unwrap().count(), 1, "something was written into ~/.aws");
}

#[test]
fn fifo_device_and_directory_entries_fail_fast_and_are_environment_errors() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    let aws_cache = bed.home().join(".cache/tfauth/aws");
    let entry = aws_cache.join(format!("{key}.json"));

    // A FIFO as the entry: the warm path must not block on it; it is replaced.
    std::fs::remove_file(&entry).unwrap();
    assert!(Command::new("mkfifo").arg(&entry).status().unwrap().success());
    let started = Instant::now();
    let o = run_within(helper(&bed, &moto, None, &["--key", &key]), Duration::from_secs(20));
    assert!(started.elapsed() < Duration::from_secs(10), "blocked on a FIFO for {:?}", started.elapsed());
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("is not a regular file (a FIFO (named pipe))"), "{}", o.stderr);
    assert!(std::fs::metadata(&entry).unwrap().is_file());

    // An entry that links to /dev/zero: refused at once (never read until memory runs out).
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &entry).unwrap();
    let started = Instant::now();
    let o = run_within(helper(&bed, &moto, None, &["--key", &key]), Duration::from_secs(20));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(o.code, 0, "{}", o.stderr);

    // A directory where the entry must go: exit 74 (not 70, "a bug") with a hint.
    std::fs::remove_file(&entry).unwrap();
    std::fs::create_dir(&entry).unwrap();
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains("hint: "), "{}", o.stderr);
    std::fs::remove_dir(&entry).unwrap();

    // A directory where the lock must go: the same.
    let lock = aws_cache.join(format!("{key}.lock"));
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains("is not a regular file (a directory)"), "{}", o.stderr);
    assert!(o.stderr.contains("hint: "), "{}", o.stderr);
}

#[test]
fn wide_entries_are_tightened_and_a_killed_writers_temp_file_is_swept() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    let aws_cache = bed.home().join(".cache/tfauth/aws");
    let entry = aws_cache.join(format!("{key}.json"));
    chmod(&aws_cache, 0o777);
    chmod(&entry, 0o644);
    let o = run(helper(&bed, &moto, None, &["--key", &key]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(mode(&entry), 0o600, "a 0644 entry of ours is tightened");
    assert_eq!(mode(&aws_cache), 0o700, "a 0777 directory of ours is tightened");

    // What a writer killed between write and rename leaves: a live secret in a temp file.
    let tmp = aws_cache.join(format!(".{key}.json.99999.1.tmp"));
    std::fs::write(&tmp, planted_entry()).unwrap();
    std::fs::remove_file(&entry).unwrap();
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!tmp.exists(), "the refresh under the lock sweeps stale temp files");
    // And logout removes them too.
    std::fs::write(&tmp, planted_entry()).unwrap();
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("BG_SECRET", "trust-test-secret")
        .env("ATMOS_KEYRING_PASSWORD", "trust-test-password")
        .args(["auth", "logout", "--all"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!tmp.exists(), "logout --all leaves a temp file with a live secret");
}

#[test]
fn both_binaries_run_without_core_dumps() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    std::fs::remove_file(bed.home().join(format!(".cache/tfauth/aws/{key}.json"))).unwrap();
    open_bed_to_victim(&bed);
    // Hold the refresh lock so the helper (as another user) waits where we can look at it.
    let lock =
        std::fs::OpenOptions::new().write(true).open(bed.home().join(format!(".cache/tfauth/aws/{key}.lock"))).unwrap();
    lock.lock().unwrap();
    let mut child = helper(&bed, &moto, Some(VICTIM), &[]).spawn().unwrap();
    let proc_dir = format!("/proc/{}", child.id());
    let started = Instant::now();
    let (mut core, mut status_owner) = (String::new(), None);
    while started.elapsed() < Duration::from_secs(10) {
        let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap_or_default();
        core = std::fs::read_to_string(format!("{proc_dir}/limits"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or_default()
            .to_string();
        // Past setpriv's exec: the helper runs as the victim, and on this miss it has
        // exec'd its cold half (`tfauth __helper-cold`), which waits on the lock.
        let ours = status.contains("Name:\tatmos-auth-help") || status.contains("Name:\ttfauth");
        if ours && status.contains(&format!("Uid:\t{VICTIM}")) {
            status_owner = std::fs::metadata(format!("{proc_dir}/status")).ok().map(|m| m.uid());
            // Both are set first thing in main, one after the other: wait for the second.
            if core.split_whitespace().nth(4) == Some("0") && status_owner == Some(0) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(lock);
    let _ = child.kill();
    let _ = child.wait();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields.get(4..6), Some(&["0", "0"][..]), "soft and hard core limits: {core}");
    // The kernel gives a non-dumpable process's /proc files to root instead of its own uid.
    assert_eq!(status_owner, Some(0), "the helper (uid {VICTIM}) is still dumpable");
}

#[test]
fn a_loop_through_tfauth_itself_or_a_case_changed_name_fails_at_once() {
    let bed = Bed::new();
    let moto = Moto::start();
    std::fs::write(
        bed.repo().join("profiles/github/zz-extra.yaml"),
        "auth:\n  identities:\n    amb: {kind: aws/ambient}\n",
    )
    .unwrap();
    // The ambient credentials come from a profile whose credential_process is the helper
    // for the same identity, spelt differently.
    let cfg = bed.home().join("aws-config");
    std::fs::write(
        &cfg,
        format!(
            "[profile mine]\ncredential_process = {HELPER} --identity AMB --config {} --profile github\n",
            bed.repo().join("atmos.yaml").display()
        ),
    )
    .unwrap();
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("AWS_CONFIG_FILE", &cfg)
        .env("AWS_PROFILE", "mine")
        .args(["auth", "env", "--login", "-i", "amb"]);
    let started = Instant::now();
    let o = run_within(c, Duration::from_secs(60));
    assert!(started.elapsed() < Duration::from_secs(15), "waited {:?} on its own lock", started.elapsed());
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("an ancestor of this one, holds its refresh lock"), "{}", o.stderr);
}

#[test]
fn an_unwritable_cache_of_ours_is_an_environment_error_with_a_hint() {
    let bed = user_bed();
    let moto = Moto::start();
    let key = real_key(&bed, &moto);
    let aws_cache = bed.home().join(".cache/tfauth/aws");
    std::fs::remove_file(aws_cache.join(format!("{key}.json"))).unwrap();
    open_bed_to_victim(&bed);
    // The victim's own cache directory, but read-only (root would write it anyway).
    chmod(&aws_cache, 0o500);
    let o = run(helper(&bed, &moto, Some(VICTIM), &[]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(o.stderr.contains(&format!("cannot use {}", aws_cache.display())), "{}", o.stderr);
    assert!(o.stderr.contains("hint: check that"), "{}", o.stderr);
    assert!(!o.stderr.contains("a bug"), "{}", o.stderr);
}

#[test]
fn a_home_that_the_ci_runner_owns_is_trusted_on_the_way_but_a_strangers_directory_is_not() {
    let bed = user_bed();
    let moto = Moto::start();
    // As in a container job: root runs tfauth, and HOME belongs to the runner's user.
    chmod(bed.dir.path(), 0o755);
    chown(&bed.home(), VICTIM);
    chmod(&bed.home(), 0o755);
    let o = run(helper(&bed, &moto, None, &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let aws_cache = bed.home().join(".cache/tfauth/aws");
    assert_eq!((owner(&aws_cache), mode(&aws_cache)), (0, 0o700), "tfauth's own tree is still its user's");
    // A directory on the way that belongs to anyone else is still refused.
    let stranger = bed.dir.path().join("stranger");
    std::fs::create_dir(&stranger).unwrap();
    chown(&stranger, ATTACKER);
    chmod(&stranger, 0o755);
    let mut c = helper(&bed, &moto, None, &[]);
    c.env("XDG_CACHE_HOME", stranger.join("cache"));
    let o = run(c);
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("{} is owned by uid {ATTACKER}", stranger.display())), "{}", o.stderr);
}

#[test]
fn logout_of_an_identity_removes_its_addressed_profile_files_and_only_those() {
    let bed = user_bed();
    let moto = Moto::start();
    let exec = |identity: &str, args: &[&str]| {
        let mut c = bed.cmd(TFAUTH);
        c.args(["auth", "exec", "--identity", identity])
            .args(args)
            .args(["--", "true"])
            .env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("BG_SECRET", "trust-test-secret");
        let o = run(c);
        assert_eq!(o.code, 0, "{identity}: {}", o.stderr);
    };
    exec(IDENTITY, &[]);
    exec("breakglass", &[]);
    let configs = || -> Vec<PathBuf> {
        walk_all(&bed.home().join(".config/atmos")).into_iter().filter(|p| p.ends_with("config")).collect()
    };
    let before = configs();
    assert_eq!(before.len(), 2, "{before:?}");
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("BG_SECRET", "trust-test-secret")
        .env("ATMOS_KEYRING_PASSWORD", "trust-test-password")
        .args(["auth", "logout", IDENTITY]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let after = configs();
    assert_eq!(after.len(), 1, "{after:?}");
    let left = std::fs::read_to_string(&after[0]).unwrap();
    assert!(left.contains("[profile breakglass]"), "{left}");
    assert!(o.stdout.contains("profile file") || o.stderr.contains("profile file"), "{}{}", o.stdout, o.stderr);
}

fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk_all(&p));
        }
    }
    out
}

fn owner(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().uid()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// [`run`], killing the command after `limit` so a hang fails the test instead of the suite.
fn run_within(mut c: Command, limit: Duration) -> Out {
    use std::io::Read;
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Out { code: status.code().unwrap_or(-1), stdout, stderr }
}

//! Issue 16, point 8: an identity asked for that exists only in a profile not applied is
//! still "not defined" (exit 64), but the hint names the profiles that define it and the
//! `--profile` to add, as Atmos's profile fallback does. The repository is
//! `tests/fixtures/profile_fallback`: `ci/deployer` only in profile `ci`, `plat/admin` in
//! `ci` and in `platform` (through that profile's own `import:`).

use crate::support::*;

const STACK: &str = "plat-use2-dev";

fn fixture() -> Sandbox {
    let sb = Sandbox::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profile_fallback");
    copy_dir(&src, &sb.repo());
    sb
}

fn plan(sb: &Sandbox, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut args = vec!["plan", "vpc", "-s", STACK, "--dry-run"];
    args.extend_from_slice(extra);
    let mut c = sb.tfauth(&args);
    c.envs(env.iter().copied());
    outcome(c)
}

fn refused(o: &Outcome, want: &[&str]) {
    assert_eq!(o.code, 64, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    for w in want {
        assert!(o.stderr.contains(w), "want `{w}` in:\n{}", o.stderr);
    }
}

#[test]
fn profile_fallback_an_identity_only_in_profile_ci_names_the_profile_to_add() {
    let sb = fixture();
    let before = sb.repo_fingerprint();

    let o = plan(&sb, &["--identity", "ci/deployer"], &[]);
    refused(
        &o,
        &[
            "identity `ci/deployer` (from --identity) is not defined",
            "\n\nhint: identity `ci/deployer` is defined in profile `ci`: run again with `--profile ci`\n",
        ],
    );
    // The other profiles were only read: nothing of them reached the run, nothing was written.
    assert!(!o.stderr.contains("warn"), "{}", o.stderr);
    assert!(sb.files_written().is_empty(), "{:?}", sb.files_written());

    // The advice works.
    let o = plan(&sb, &["--profile", "ci", "--identity", "ci/deployer"], &[]);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);

    // With a profile applied, the one to add goes beside it.
    let o = plan(&sb, &["--identity", "ci/deployer"], &[("ATMOS_PROFILE", "developers")]);
    refused(
        &o,
        &[
            "hint: identity `ci/deployer` is defined in profile `ci`: run again with `--profile developers,ci` (keeping profile `developers`, applied now)",
        ],
    );
    assert_eq!(sb.repo_fingerprint(), before);
}

#[test]
fn profile_fallback_an_identity_in_several_profiles_lists_them_all() {
    let sb = fixture();
    // From ATMOS_IDENTITY, in another case: names match case-insensitively.
    let o = plan(&sb, &[], &[("ATMOS_IDENTITY", "PLAT/ADMIN")]);
    refused(
        &o,
        &[
            "identity `PLAT/ADMIN` (from ATMOS_IDENTITY) is not defined",
            "hint: identity `PLAT/ADMIN` is defined in profiles `ci`, `platform`: run again with one of them, e.g. `--profile ci`",
        ],
    );
    // Applied, `platform` defines it (through its import); `ci` then is the one left.
    let o = plan(&sb, &["--profile", "platform", "--identity", "plat/admin"], &[]);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
}

#[test]
fn profile_fallback_an_identity_in_no_profile_keeps_the_nearest_names() {
    let sb = fixture();
    let o = plan(&sb, &["--identity", "dev/readonli"], &[]);
    refused(&o, &["identity `dev/readonli` (from --identity) is not defined", "hint: did you mean `dev/readonly`?"]);
    assert!(!o.stderr.contains("profile `"), "{}", o.stderr);
}

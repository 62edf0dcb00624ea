//! tfauth's own exit codes (CONTRACT B). They start at 64 (sysexits) so they never collide
//! with terraform's 0/1/2, which `-detailed-exitcode` gives meaning to. The binaries map
//! errors to these in one place, [`crate::Error::exit_code`].

/// The command line was wrong: unknown stack, component or identity, bad flags.
pub const USAGE: i32 = 64;
/// The configuration is invalid: YAML, schema, references, inheritance, imports.
pub const DATAERR: i32 = 65;
/// A file tfauth needs does not exist: no `atmos.yaml` found.
pub const NOINPUT: i32 = 66;
/// A service tfauth needs did not answer (STS, SSO, a token endpoint).
pub const UNAVAILABLE: i32 = 69;
/// A bug in tfauth.
pub const SOFTWARE: i32 = 70;
/// tfauth would have to overwrite a file it did not write (a hand-written `backend.tf.json`).
pub const CANTCREAT: i32 = 73;
/// A file or directory tfauth keeps cannot be used: owned by someone else, writable by
/// others, a symbolic link, not a regular file, or not writable. An environment problem
/// with a fix, not a bug.
pub const IOERR: i32 = 74;
/// A temporary failure (throttling, a lock held too long): try again.
pub const TEMPFAIL: i32 = 75;
/// Login is required, or access was denied.
pub const NOPERM: i32 = 77;
/// `tfauth doctor` found a failing check. Doctor never runs terraform, so it uses the
/// plain 1 that scripts and CI expect of a check, not a code from 64 up.
pub const DOCTOR_FAILED: i32 = 1;

/// The exit code to end with after a child: its own, or 128 + the signal that ended it, as
/// shells report it (0 + 128 if the status says neither, which a waited-for child never does).
pub fn of_child(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_ended_by_a_signal_is_128_plus_it() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(super::of_child(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(super::of_child(std::process::ExitStatus::from_raw(libc::SIGKILL)), 137);
    }
}

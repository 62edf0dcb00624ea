//! The only place in tfauth with `unsafe` code: the calls that have no safe API in std or
//! rustix (which covers the other syscalls: `src/fsutil.rs`, `src/tty.rs`,
//! `src/run/lock.rs`). Each function here is small and states why its call is sound.

/// A signal's disposition, as [`ignore`] found it, for [`restore`].
#[derive(Clone, Copy)]
pub struct Disposition(libc::sighandler_t);

/// Ignores `signal` (SIG_IGN) and returns what it was before.
pub fn ignore(signal: libc::c_int) -> Disposition {
    // SAFETY: `signal` with SIG_IGN installs no handler code of ours.
    Disposition(unsafe { libc::signal(signal, libc::SIG_IGN) })
}

/// Puts back the disposition [`ignore`] returned for `signal`.
pub fn restore(signal: libc::c_int, old: Disposition) {
    // SAFETY: `old` is a disposition the system gave us for this signal.
    unsafe { libc::signal(signal, old.0) };
}

/// SIGINT and SIGTERM ignored while it lives (set only after the child was spawned, so the
/// child keeps the default dispositions), restored when dropped.
pub struct IgnoreSignals {
    old: [Disposition; 2],
}

#[allow(clippy::new_without_default)]
impl IgnoreSignals {
    pub fn new() -> IgnoreSignals {
        IgnoreSignals { old: [ignore(libc::SIGINT), ignore(libc::SIGTERM)] }
    }
}

impl Drop for IgnoreSignals {
    fn drop(&mut self) {
        restore(libc::SIGINT, self.old[0]);
        restore(libc::SIGTERM, self.old[1]);
    }
}

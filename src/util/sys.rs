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

/// SIGINT and SIGTERM blocked in this thread and the threads it starts afterwards, so that
/// [`TerminationSignals::wait`] receives them (`auth serve` runs until one comes).
pub struct TerminationSignals {
    set: libc::sigset_t,
}

impl TerminationSignals {
    /// Blocks SIGINT and SIGTERM (call it before starting threads: they inherit the mask).
    pub fn block() -> TerminationSignals {
        // SAFETY: `set` is initialised by sigemptyset before use; the calls only read and
        // write it and this thread's signal mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            TerminationSignals { set }
        }
    }

    /// Waits for SIGINT or SIGTERM and returns its number.
    pub fn wait(&self) -> i32 {
        let mut signal: libc::c_int = 0;
        // SAFETY: `self.set` was initialised in `block`; `signal` is a valid out pointer.
        unsafe { libc::sigwait(&self.set, &mut signal) };
        signal
    }
}

impl Drop for TerminationSignals {
    fn drop(&mut self) {
        // SAFETY: unblocks the signals `block` blocked, in this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.set, std::ptr::null_mut()) };
    }
}

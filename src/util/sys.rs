//! The only place in tfauth with `unsafe` code: the calls that have no safe API in std or
//! rustix (which covers the other syscalls: `src/util/fs.rs`, `src/cli/tty.rs`,
//! `src/run/lock.rs`). Each function here is small and states why its call is sound.
//! It also says how the unwinder is linked (below), the one link-time choice tfauth makes.

// GCC's unwinder, linked in statically where Rust would have the loader map
// `libgcc_s.so.1` at every start (Linux with glibc, not `crt-static`), as `gcc
// -static-libgcc` does for C programs. Mapping that one library was about a tenth of a warm
// helper call (interleaved here: `/bin/cat` 0.87 ms, helper 1.07 ms with it, 0.93 without),
// and a helper runs once per provider Terraform starts. Panics unwind and print as before;
// the release archives (static, musl) bring their own unwinder and are left as they are.
// `-bundle`: the archive goes to the final link rather than into this crate's rlib, ahead
// of `-lgcc_s`, which the linker's `--as-needed` then drops. It comes with GCC wherever a
// Rust program links for this target (`libgcc_eh.a`, beside `libgcc_s.so`).
#[cfg(all(target_os = "linux", target_env = "gnu", not(target_feature = "crt-static")))]
#[link(name = "gcc_eh", kind = "static", modifiers = "-bundle")]
unsafe extern "C" {}

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

/// Does what Rust's runtime does before `main` for a `#![no_main]` binary (the helper, whose
/// every start is paid on each credential call): file descriptors 0 to 2 are made open, on
/// `/dev/null` when closed, so no file the process opens later becomes its stdout or
/// stderr; and SIGPIPE is ignored, so writing to a closed pipe is an error the caller sees
/// rather than a kill. It skips the runtime's stack-overflow handler, which reads
/// `/proc/self/maps` and maps an alternate signal stack at every start (an overflow is
/// then a plain SIGSEGV), and the main thread's name.
pub fn init_like_rust_runtime() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    let polled = loop {
        // SAFETY: `fds` is a valid array of three pollfd; a zero timeout only reports.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if r != -1 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break r != -1;
        }
    };
    for pfd in &fds {
        // Without poll (rare sandboxes refuse it), ask each descriptor for its flags.
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let closed = if polled {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            (unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) }) == -1
        };
        // The lowest free descriptor is taken, and lower ones are open by now: this is `pfd.fd`.
        // SAFETY: a constant NUL-terminated path; the descriptor is kept open on purpose.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            // As Rust's runtime does: nothing can be reported without these descriptors.
            std::process::abort();
        }
    }
    ignore(libc::SIGPIPE);
}

/// The arguments a C `main` received, for a `#![no_main]` binary (where std's own copy of
/// them is not set up on every target).
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings, as the C runtime passes them
/// to `main`.
pub unsafe fn args_from_c(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: `i < argc`, and each of those entries is a valid C string (the caller's promise).
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// With the unwinder linked in (see the `#[link]` above), a panic still unwinds through
    /// our frames to whoever catches it, and a backtrace still walks the stack.
    #[test]
    fn the_linked_in_unwinder_unwinds_and_walks_the_stack() {
        let caught = std::panic::catch_unwind(|| {
            let trace = std::backtrace::Backtrace::force_capture();
            assert_eq!(trace.status(), std::backtrace::BacktraceStatus::Captured);
            panic!("unwound");
        });
        let payload = caught.expect_err("the panic was caught");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"unwound"));
    }
}

//! SIGINT, SIGTERM and SIGHUP as ordinary values instead of asynchronous
//! handlers.
//!
//! The signals are blocked in the main thread before any other thread
//! exists (so every thread inherits the mask), and one dedicated thread
//! collects them with `sigwait`. Nothing runs in signal context, so the
//! shutdown path can take locks, log and write the final snapshot, and a
//! SIGHUP can re-read the web config without ending the process.

use std::io;

/// A signal pushgate acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT or SIGTERM (named): shut down gracefully.
    Terminate(&'static str),
    /// SIGHUP: re-read configuration files; never exits.
    Reload,
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and all threads
/// it starts afterwards. Call first thing in `main`.
pub fn block_termination_signals() -> io::Result<()> {
    let set = handled_set();
    // SAFETY: `set` is an initialised sigset_t; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits for the next SIGINT, SIGTERM or SIGHUP.
pub fn wait() -> io::Result<Signal> {
    let set = handled_set();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(match sig {
        libc::SIGHUP => Signal::Reload,
        libc::SIGINT => Signal::Terminate("SIGINT"),
        _ => Signal::Terminate("SIGTERM"),
    })
}

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset fully initialises the zeroed set; sigaddset with
    // valid signal numbers cannot fail.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

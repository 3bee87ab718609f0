//! SIGINT and SIGTERM as ordinary values instead of asynchronous handlers.
//!
//! The signals are blocked in the main thread before any other thread
//! exists (so every thread inherits the mask), and one dedicated thread
//! collects them with `sigwait`. Nothing runs in signal context, so the
//! shutdown path can take locks, log and write the final snapshot.

use std::io;

/// Blocks SIGINT and SIGTERM in the calling thread and all threads it
/// starts afterwards. Call first thing in `main`.
pub fn block_termination_signals() -> io::Result<()> {
    let set = termination_set();
    // SAFETY: `set` is an initialised sigset_t; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM and returns its name.
pub fn wait_for_termination() -> io::Result<&'static str> {
    let set = termination_set();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(if sig == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    })
}

fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset fully initialises the zeroed set; sigaddset with
    // valid signal numbers cannot fail.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

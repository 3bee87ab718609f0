//! The worker pool: a fixed number of threads that run the blocking
//! handlers. Workers take jobs (a head to admit, a complete request to
//! answer) from one channel and send replies back to the I/O thread, waking
//! it through an eventfd. A panic in a handler is caught here and answered
//! 500, so a worker never dies.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::Service;
use crate::http::{Request, Response, Status};
use crate::log;

/// Identifies a connection in the I/O thread: slot index and generation.
pub type Token = u64;

pub enum Job {
    /// Run `Service::admit` on a head; the request comes back with the verdict.
    Admit { token: Token, req: Request },
    /// Run `Service::handle` on a complete request.
    Handle {
        token: Token,
        req: Request,
        admitted: bool,
    },
}

pub enum Reply {
    Admitted {
        token: Token,
        req: Request,
        verdict: Result<(), Response>,
    },
    Handled {
        token: Token,
        resp: Response,
    },
}

/// Wakes the I/O thread when a reply is queued.
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: eventfd has no memory arguments; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN)
        // still leaves the eventfd readable, which is all that matters.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const _, 8) };
    }

    /// Resets the counter after a wake-up.
    pub fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), &mut value as *mut u64 as *mut _, 8) };
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// The replies the I/O thread reads, and the waker workers use.
pub struct Replies {
    pub rx: Receiver<Reply>,
    pub waker: Arc<Waker>,
}

pub struct Pool {
    jobs: Sender<Job>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    pub fn start(service: Arc<dyn Service>, count: usize) -> io::Result<(Pool, Replies)> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
        let waker = Arc::new(Waker::new()?);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut workers = Vec::new();
        for i in 0..count.max(1) {
            let (service, job_rx, reply_tx, waker) = (
                service.clone(),
                job_rx.clone(),
                reply_tx.clone(),
                waker.clone(),
            );
            workers.push(
                std::thread::Builder::new()
                    .name(format!("http-worker-{i}"))
                    .spawn(move || work(&*service, &job_rx, &reply_tx, &waker))?,
            );
        }
        Ok((
            Pool { jobs, workers },
            Replies {
                rx: reply_rx,
                waker,
            },
        ))
    }

    pub fn jobs(&self) -> Sender<Job> {
        self.jobs.clone()
    }

    /// Closes the job channel and waits until `deadline` for the workers;
    /// one still inside a handler then is left to finish on its own.
    pub fn stop(self, deadline: Instant) {
        drop(self.jobs);
        for w in self.workers {
            while !w.is_finished() && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if w.is_finished() {
                let _ = w.join();
            } else {
                log::warn("an HTTP worker is still busy at shutdown", &[]);
            }
        }
    }
}

fn work(
    service: &dyn Service,
    jobs: &Mutex<Receiver<Job>>,
    replies: &Sender<Reply>,
    waker: &Waker,
) {
    loop {
        // Hold the lock only while waiting for the next job.
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let reply = match job {
            Job::Admit { token, req } => {
                let verdict = guarded(&req, || service.admit(&req)).unwrap_or_else(Err);
                Reply::Admitted {
                    token,
                    req,
                    verdict,
                }
            }
            Job::Handle {
                token,
                req,
                admitted,
            } => {
                let resp = guarded(&req, || service.handle(&req, admitted)).unwrap_or_else(|r| r);
                Reply::Handled { token, resp }
            }
        };
        if replies.send(reply).is_err() {
            return;
        }
        waker.wake();
    }
}

/// Runs `f`, turning a panic into a logged 500.
fn guarded<T>(req: &Request, f: impl FnOnce() -> T) -> Result<T, Response> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        log::request_panicked(&req.path, panic.as_ref());
        Response::error(Status::INTERNAL_SERVER_ERROR, "Internal Server Error")
    })
}

//! The I/O thread: one epoll loop that accepts, reads and frames requests,
//! hands complete requests (or heads to admit) to the workers, writes their
//! responses non-blockingly, and enforces deadlines and the connection cap.
//!
//! Level-triggered epoll; a connection is registered for reading only while
//! it is in a reading phase, so a client pipelining requests is bounded by
//! the kernel's socket buffer, and for writing only while output waits.
//! Deadlines are checked by a sweep over all connections, run when the
//! earliest deadline passes (every connection has at most one), at most
//! every 50 ms; with nothing pending the thread sleeps without timeout.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::conn::{After, Conn, Phase, TlsStream, Transport};
use super::epoll::Epoll;
use super::pool::{Job, Replies, Token, Waker};
use super::{Limits, Refusal, Service};
use crate::http::Status;
use crate::log;
use crate::tls::ServerConfigSource;

mod cycle;

const WAKER_TOKEN: u64 = u64::MAX;
const LISTENER_BASE: u64 = 1 << 62;
/// Bytes read from a socket per readiness event.
const READ_CHUNK: usize = 64 * 1024;
/// How long a closed connection still reads and discards input.
const LINGER: Duration = Duration::from_millis(500);
/// Pause after `accept` fails for lack of descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Descriptors kept free for listeners, the persistence file, /proc reads.
const RESERVED_FDS: usize = 16;
/// Connections accepted per listener per wake-up, for fairness.
const ACCEPT_BATCH: usize = 64;
/// Deadlines fire up to this late, so a sweep over all connections runs at
/// most 20 times a second however many deadlines there are.
const SWEEP_GRANULARITY: Duration = Duration::from_millis(50);

/// Controls the I/O thread.
pub struct Handle {
    thread: JoinHandle<()>,
    stop: Arc<Mutex<Option<Instant>>>,
    waker: Arc<Waker>,
}

impl Handle {
    /// Asks the loop to stop (see `Server::stop`) and waits for it; it
    /// returns by `deadline` whatever the clients do.
    pub fn stop(self, deadline: Instant) {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
        self.waker.wake();
        if self.thread.join().is_err() {
            log::error("the HTTP I/O thread panicked", &[]);
        }
    }
}

pub fn start(
    service: Arc<dyn Service>,
    listeners: Vec<TcpListener>,
    tls: Option<Arc<dyn ServerConfigSource>>,
    limits: Limits,
    jobs: Sender<Job>,
    replies: Replies,
) -> io::Result<Handle> {
    let epoll = Epoll::new()?;
    for (i, l) in listeners.iter().enumerate() {
        l.set_nonblocking(true)?;
        epoll.add(
            l.as_raw_fd(),
            libc::EPOLLIN as u32,
            LISTENER_BASE + i as u64,
        )?;
    }
    epoll.add(replies.waker.fd(), libc::EPOLLIN as u32, WAKER_TOKEN)?;
    let stop = Arc::new(Mutex::new(None));
    let waker = replies.waker.clone();
    let max_connections = effective_max_connections(limits.max_connections);
    let mut state = Loop {
        epoll,
        listeners: listeners.into_iter().map(Some).collect(),
        accept_paused_until: None,
        tls,
        service,
        limits,
        max_connections,
        jobs,
        replies,
        slots: Vec::new(),
        free: Vec::new(),
        live: 0,
        next_sweep: None,
        stopping: None,
        stop: stop.clone(),
        scratch: vec![0; READ_CHUNK],
        ready: Vec::new(),
    };
    let thread = std::thread::Builder::new()
        .name("http-io".into())
        .spawn(move || state.run())?;
    Ok(Handle {
        thread,
        stop,
        waker,
    })
}

/// `--web.max-connections`, lowered to what the descriptor limit allows.
fn effective_max_connections(flag: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer for getrlimit.
    let fds = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    let allowed = fds.saturating_sub(RESERVED_FDS).max(8);
    if flag > allowed {
        log::warn(
            "--web.max-connections lowered to fit the descriptor limit",
            &[("max_connections", &allowed), ("max_fds", &fds)],
        );
    }
    flag.min(allowed).max(1)
}

struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

struct Loop {
    epoll: Epoll,
    listeners: Vec<Option<TcpListener>>,
    accept_paused_until: Option<Instant>,
    tls: Option<Arc<dyn ServerConfigSource>>,
    service: Arc<dyn Service>,
    limits: Limits,
    max_connections: usize,
    jobs: Sender<Job>,
    replies: Replies,
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    next_sweep: Option<Instant>,
    /// Set once stopping: the deadline for in-flight requests.
    stopping: Option<Instant>,
    stop: Arc<Mutex<Option<Instant>>>,
    scratch: Vec<u8>,
    /// Connections back in a reading phase with bytes already buffered
    /// (pipelining), processed by the loop itself: calling `process` from
    /// `finish_response` would recurse once per pipelined request.
    ready: Vec<Token>,
}

fn token_of(index: usize, generation: u32) -> Token {
    (u64::from(generation) << 32) | index as u64
}

impl Loop {
    fn run(&mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        loop {
            let now = Instant::now();
            if self.stopping.is_none() {
                let requested = *self.stop.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(deadline) = requested {
                    self.begin_stop(deadline);
                }
            }
            if let Some(deadline) = self.stopping {
                if self.live == 0 || now >= deadline {
                    self.close_all();
                    return;
                }
            }
            if self.next_sweep.is_some_and(|t| t <= now) {
                self.sweep(now);
            }
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.resume_accept();
            }
            let wake_at = [self.next_sweep, self.accept_paused_until, self.stopping]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake_at.map_or(-1, |t| {
                let ms = t.saturating_duration_since(Instant::now()).as_millis() + 1;
                i32::try_from(ms).unwrap_or(i32::MAX)
            });
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(e) => {
                    log::error("epoll_wait failed", &[("err", &e)]);
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            for ev in &events[..n] {
                let (token, flags) = (ev.u64, ev.events);
                match token {
                    WAKER_TOKEN => {
                        self.replies.waker.drain();
                        self.take_replies();
                    }
                    t if t >= LISTENER_BASE => self.accept((t - LISTENER_BASE) as usize),
                    t => self.on_event(t, flags),
                }
            }
            // Bounded: each round answers a request or waits for a worker.
            while let Some(token) = self.ready.pop() {
                self.process(token, false);
                self.update_interest(token);
            }
        }
    }

    // ----- connections in the slab -----

    fn conn_mut(&mut self, token: Token) -> Option<&mut Conn> {
        let index = (token & 0xffff_ffff) as usize;
        let generation = (token >> 32) as u32;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.conn.as_mut()
    }

    fn insert(&mut self, conn: Conn) -> Option<Token> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        let token = token_of(index, slot.generation);
        let fd = conn.io.fd();
        slot.conn = Some(conn);
        self.live += 1;
        if let Err(e) = self.epoll.add(fd, 0, token) {
            log::warn("cannot watch a connection", &[("err", &e)]);
            self.close(token, None);
            return None;
        }
        Some(token)
    }

    /// Closes a connection at once (no lingering) and counts `refusal`.
    fn close(&mut self, token: Token, refusal: Option<Refusal>) {
        let index = (token & 0xffff_ffff) as usize;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if slot.generation != (token >> 32) as u32 {
            return;
        }
        let Some(conn) = slot.conn.take() else {
            return;
        };
        // Counted before the socket closes, so a client that sees the
        // close also sees the count.
        if let Some(r) = refusal {
            self.service.refused(r);
        }
        self.epoll.delete(conn.io.fd());
        drop(conn);
        self.free.push(index);
        self.live -= 1;
    }

    fn close_all(&mut self) {
        for index in 0..self.slots.len() {
            let generation = self.slots[index].generation;
            self.close(token_of(index, generation), None);
        }
    }

    // ----- accepting -----

    fn accept(&mut self, which: usize) {
        for _ in 0..ACCEPT_BATCH {
            let Some(Some(listener)) = self.listeners.get(which) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit_connection(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let code = e.raw_os_error();
                    if matches!(
                        code,
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) {
                        log::warn("cannot accept connections for now", &[("err", &e)]);
                        self.pause_accept();
                        return;
                    }
                    // ECONNABORTED and the like concern one connection only.
                    log::debug("accept failed", &[("err", &e)]);
                }
            }
        }
    }

    fn pause_accept(&mut self) {
        for l in self.listeners.iter().flatten() {
            let _ = self.epoll.modify(l.as_raw_fd(), 0, 0);
        }
        self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
    }

    fn resume_accept(&mut self) {
        self.accept_paused_until = None;
        for (i, l) in self.listeners.iter().enumerate() {
            if let Some(l) = l {
                let _ = self.epoll.modify(
                    l.as_raw_fd(),
                    libc::EPOLLIN as u32,
                    LISTENER_BASE + i as u64,
                );
            }
        }
    }

    fn admit_connection(&mut self, stream: TcpStream, peer: SocketAddr) {
        if self.live >= self.max_connections && !self.evict_one() {
            // Nothing to evict: a fast, explicit refusal.
            self.service.refused(Refusal::ConnectionLimit);
            let _ = stream.set_nonblocking(true);
            let status = Status::SERVICE_UNAVAILABLE.line();
            let body = format!("{status}: too many open connections");
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write(answer.as_bytes());
            return;
        }
        if let Err(e) = stream.set_nonblocking(true) {
            log::debug("cannot make a connection non-blocking", &[("err", &e)]);
            return;
        }
        let io = match &self.tls {
            None => Transport::Plain(stream),
            Some(source) => match rustls::ServerConnection::new(source.current()) {
                Ok(tls) => Transport::Tls(Box::new(TlsStream { sock: stream, tls })),
                Err(e) => {
                    log::warn("cannot start a TLS session", &[("err", &e)]);
                    self.service.refused(Refusal::TlsHandshake);
                    return;
                }
            },
        };
        let now = Instant::now();
        let mut conn = Conn::new(io, peer, now);
        let tls = conn.io.handshaking();
        // A TLS handshake has the head's deadline; a plain connection is
        // idle until its first byte.
        conn.deadline = if tls {
            conn.phase = Phase::Head;
            Some((
                now + self.limits.read_header_timeout,
                Some(Refusal::TlsHandshake),
            ))
        } else {
            self.idle_deadline(now)
        };
        let deadline = conn.deadline;
        if let Some(token) = self.insert(conn) {
            self.note_deadline(deadline);
            self.update_interest(token);
        }
    }

    /// Closes the connection that has waited longest without a complete
    /// head; false if every connection has a request in progress.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let c = s.conn.as_ref()?;
                matches!(c.phase, Phase::Idle | Phase::Head).then_some((c.since, i, s.generation))
            })
            .min();
        match victim {
            Some((_, index, generation)) => {
                self.close(token_of(index, generation), Some(Refusal::ConnectionLimit));
                true
            }
            None => false,
        }
    }

    fn idle_deadline(&self, now: Instant) -> Option<(Instant, Option<Refusal>)> {
        (!self.limits.idle_timeout.is_zero())
            .then(|| (now + self.limits.idle_timeout, Some(Refusal::IdleTimeout)))
    }

    fn note_deadline(&mut self, deadline: Option<(Instant, Option<Refusal>)>) {
        if let Some((t, _)) = deadline {
            self.next_sweep = Some(self.next_sweep.map_or(t, |s| s.min(t)));
        }
    }

    fn set_deadline(&mut self, token: Token, deadline: Option<(Instant, Option<Refusal>)>) {
        if let Some(conn) = self.conn_mut(token) {
            conn.deadline = deadline;
        }
        self.note_deadline(deadline);
    }

    // ----- stopping and deadlines -----

    fn begin_stop(&mut self, deadline: Instant) {
        self.stopping = Some(deadline);
        for l in self.listeners.iter_mut() {
            if let Some(l) = l.take() {
                self.epoll.delete(l.as_raw_fd());
            }
        }
        self.accept_paused_until = None;
        // Connections without a request at a worker or a response on its
        // way are closed now: a body still arriving is never acknowledged.
        for index in 0..self.slots.len() {
            let generation = self.slots[index].generation;
            let token = token_of(index, generation);
            let idle = self.slots[index].conn.as_ref().is_some_and(|c| {
                matches!(
                    c.phase,
                    Phase::Idle | Phase::Head | Phase::Body(_) | Phase::Lingering
                )
            });
            if idle {
                self.close(token, None);
            } else if let Some(conn) = self.conn_mut(token) {
                if conn.after == After::NextRequest {
                    conn.after = After::Close;
                }
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.next_sweep = None;
        let mut expired = Vec::new();
        let mut next: Option<Instant> = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(conn) = &slot.conn else { continue };
            if let Some((t, refusal)) = conn.deadline {
                if t <= now {
                    expired.push((token_of(index, slot.generation), refusal));
                } else {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
        }
        self.next_sweep = next.map(|t| t.max(now + SWEEP_GRANULARITY));
        for (token, refusal) in expired {
            self.close(token, refusal);
        }
    }

    // ----- I/O events -----

    fn on_event(&mut self, token: Token, flags: u32) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let readable = flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0;
        let error = flags & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if error && !conn.phase.reads() {
            self.close(token, None);
            return;
        }
        if readable && conn.phase.reads() {
            self.read(token);
        }
        if flags & libc::EPOLLOUT as u32 != 0 {
            self.write(token);
        }
        self.update_interest(token);
    }

    fn read(&mut self, token: Token) {
        let scratch = &mut self.scratch;
        let index = (token & 0xffff_ffff) as usize;
        let Some(conn) = self.slots.get_mut(index).and_then(|s| s.conn.as_mut()) else {
            return;
        };
        let was_handshaking = conn.io.handshaking();
        let outcome = conn.io.read(&mut conn.buf, scratch);
        let outcome = match outcome {
            Ok(o) => o,
            Err(_) => {
                let refusal = was_handshaking.then_some(Refusal::TlsHandshake);
                self.close(token, refusal);
                return;
            }
        };
        if matches!(conn.phase, Phase::Lingering) {
            conn.buf.clear();
            if outcome.eof {
                self.close(token, None);
            }
            return;
        }
        if conn.io.wants_write() {
            // Handshake records (or alerts) to send.
            let _ = conn.io.write(&mut conn.outs);
        }
        if was_handshaking && !conn.io.handshaking() {
            // Handshake done: the connection is idle until the head starts.
            conn.phase = Phase::Idle;
            conn.since = Instant::now();
            if conn.buf.is_empty() {
                let d = self.idle_deadline(Instant::now());
                self.set_deadline(token, d);
            }
        }
        self.process(token, outcome.eof);
    }

    fn write(&mut self, token: Token) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        if conn.io.write(&mut conn.outs).is_err() {
            self.close(token, None);
            return;
        }
        if conn.outs.is_empty() && !conn.io.wants_write() && matches!(conn.phase, Phase::Writing) {
            self.finish_response(token);
        }
    }

    fn update_interest(&mut self, token: Token) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let wanted = conn.wanted_interest();
        if wanted == conn.interest {
            return;
        }
        conn.interest = wanted;
        let fd = conn.io.fd();
        if let Err(e) = self.epoll.modify(fd, wanted, token) {
            log::debug("epoll_ctl failed", &[("err", &e)]);
            self.close(token, None);
        }
    }
}

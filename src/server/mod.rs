//! pushgate's HTTP/1.1 server: listeners, one I/O thread and a small pool
//! of workers; the only module that knows sockets.
//!
//! The I/O thread (`event_loop`) accepts, reads and frames requests
//! (`head`, `chunked`), drives TLS and writes responses, all non-blocking
//! over epoll, so slow or silent clients cost a few hundred bytes each and
//! never a thread. Workers (`pool`) get only complete requests (or a head to
//! admit) and run the blocking handlers. See docs/architecture.md, "HTTP
//! server".

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ListenAddress;
use crate::http::{Request, Response};
use crate::log;
use crate::tls::ServerConfigSource;

pub mod chunked;
mod conn;
mod epoll;
mod event_loop;
pub mod head;
mod pool;
#[cfg(test)]
mod tls_tests;
mod wire;

/// What the server asks of the application. The router's `App` implements
/// it; tests implement it with a few lines.
pub trait Service: Send + Sync + 'static {
    /// Decides on a request from its head alone, before any body byte is
    /// read: `Err` is the answer (401, 429, 500 while the web config is
    /// broken) and the body is never read. Runs on a worker (bcrypt is slow).
    /// Called only for requests with a body.
    fn admit(&self, head: &Request) -> Result<(), Response>;

    /// True if [`Service::admit`] would pass every head right now (no
    /// authentication or rate limit configured): the body is then read
    /// without a round trip through a worker.
    fn admits_every_head(&self) -> bool {
        false
    }

    /// Answers a complete request. `admitted` is true when [`Service::admit`]
    /// already passed for this request, so authentication and the rate limit
    /// must not be charged again; bodiless requests come here directly with
    /// `admitted == false` and are checked here.
    fn handle(&self, req: &Request, admitted: bool) -> Response;

    /// Counts one refusal by the server itself (own metrics).
    fn refused(&self, reason: Refusal);
}

/// Why the server refused or dropped a connection or request on its own,
/// the `reason` label of `pushgate_http_refusals_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Head over 1 MiB: 431.
    HeadTooLarge,
    /// More than 256 header fields: 431.
    TooManyHeaders,
    /// Head not complete within `--web.read-header-timeout`: closed.
    HeadTimeout,
    /// Body not complete within `--web.read-timeout`: closed.
    BodyTimeout,
    /// No request within `--web.idle-timeout`: closed.
    IdleTimeout,
    /// Response not taken within `--web.write-timeout`: closed.
    WriteTimeout,
    /// Over `--web.max-connections`: the oldest connection without a
    /// complete head is closed, or the new one gets 503.
    ConnectionLimit,
    /// Malformed head or URL escape: 400.
    BadRequest,
    /// Conflicting or unsupported body framing, malformed chunks: 400/501.
    BadFraming,
    /// Body over `--push.max-body-bytes`: 413.
    BodyTooLarge,
    /// TLS handshake failed or timed out.
    TlsHandshake,
}

impl Refusal {
    /// Every reason, in label order.
    pub const ALL: [Refusal; 11] = [
        Refusal::BadFraming,
        Refusal::BadRequest,
        Refusal::BodyTimeout,
        Refusal::BodyTooLarge,
        Refusal::ConnectionLimit,
        Refusal::HeadTimeout,
        Refusal::HeadTooLarge,
        Refusal::IdleTimeout,
        Refusal::TlsHandshake,
        Refusal::TooManyHeaders,
        Refusal::WriteTimeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::HeadTooLarge => "head_too_large",
            Refusal::TooManyHeaders => "too_many_headers",
            Refusal::HeadTimeout => "head_timeout",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::IdleTimeout => "idle_timeout",
            Refusal::WriteTimeout => "write_timeout",
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::BadRequest => "bad_request",
            Refusal::BadFraming => "bad_framing",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::TlsHandshake => "tls_handshake",
        }
    }
}

/// Bounds on connections; see `Limits::default` for the defaults and
/// docs/architecture.md for why.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Whole head (and TLS handshake) from its first byte: 30 s.
    pub read_header_timeout: Duration,
    /// Whole body from the end of the head: 5 min.
    pub read_timeout: Duration,
    /// Whole response from its first byte: 5 min.
    pub write_timeout: Duration,
    /// Waiting for the next request (or the first byte of the first);
    /// zero = never: 2 min.
    pub idle_timeout: Duration,
    /// Open connections at most: 4096 (capped by the descriptor limit).
    pub max_connections: usize,
    /// Request body bytes at most (0 = unlimited): 64 MiB.
    pub max_body_bytes: u64,
    /// In-flight requests may finish within this after `stop`: 5 s.
    pub shutdown_timeout: Duration,
    /// Worker threads running handlers: 8.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            read_header_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            max_connections: 4096,
            max_body_bytes: 64 << 20,
            shutdown_timeout: Duration::from_secs(5),
            workers: 8,
        }
    }
}

/// The running server.
pub struct Server {
    event_loop: event_loop::Handle,
    pool: pool::Pool,
    shutdown_timeout: Duration,
}

/// Starts serving `service` on every listener; with `tls`, every listener
/// speaks TLS (one `tls.current()` per accepted connection).
pub fn start(
    service: Arc<dyn Service>,
    listeners: Vec<TcpListener>,
    tls: Option<Arc<dyn ServerConfigSource>>,
    limits: Limits,
) -> io::Result<Server> {
    for l in &listeners {
        log::info("Listening on", &[("address", &l.local_addr()?)]);
    }
    let (pool, replies) = pool::Pool::start(service.clone(), limits.workers)?;
    let event_loop = event_loop::start(
        service,
        listeners,
        tls,
        limits.clone(),
        pool.jobs(),
        replies,
    )?;
    Ok(Server {
        event_loop,
        pool,
        shutdown_timeout: limits.shutdown_timeout,
    })
}

impl Server {
    /// Stops accepting, closes connections without a request in progress,
    /// lets in-flight requests finish and their responses go out within the
    /// shutdown timeout, then closes everything. Returns by then whatever
    /// clients do; a handler still running after it is abandoned (its
    /// response is never sent, so nothing unacknowledged is lost).
    pub fn stop(self) {
        let deadline = std::time::Instant::now() + self.shutdown_timeout;
        self.event_loop.stop(deadline);
        self.pool.stop(deadline);
    }
}

/// A listener that could not be opened; the process exits 1.
#[derive(Debug)]
pub struct BindError {
    address: String,
    source: io::Error,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot listen on {}: {}", self.address, self.source)
    }
}

impl std::error::Error for BindError {}

/// Opens every listen address. `:port` tries the dual-stack `[::]:port`
/// first and falls back to `0.0.0.0:port` on hosts without IPv6.
pub fn bind(addresses: &[ListenAddress]) -> Result<Vec<TcpListener>, BindError> {
    let mut listeners = Vec::with_capacity(addresses.len());
    for addr in addresses {
        let listener = match addr {
            ListenAddress::AnyHost(port) => {
                let v6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, *port, 0, 0));
                let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, *port));
                TcpListener::bind(v6).or_else(|_| TcpListener::bind(v4))
            }
            ListenAddress::Socket(sa) => TcpListener::bind(sa),
        }
        .map_err(|source| BindError {
            address: match addr {
                ListenAddress::AnyHost(port) => format!(":{}", port),
                ListenAddress::Socket(sa) => sa.to_string(),
            },
            source,
        })?;
        set_nodelay(&listener);
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Raises the soft limit on open descriptors to the hard limit: each
/// connection holds one, and the common soft default of 1024 would cap
/// pushgate below `--web.max-connections`. Returns the new soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer for getrlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid, initialised rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// The sockets systemd passed by socket activation (`LISTEN_PID`,
/// `LISTEN_FDS`; descriptors from 3 on), so a unit can listen on port 9091
/// without privileges and keep it across restarts.
pub fn systemd_listeners() -> Result<Vec<TcpListener>, BindError> {
    use std::os::fd::FromRawFd;
    let fail = |msg: &str| BindError {
        address: "systemd socket".to_string(),
        source: io::Error::other(msg.to_string()),
    };
    let pid = std::env::var("LISTEN_PID").map_err(|_| fail("LISTEN_PID is not set"))?;
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Err(fail("LISTEN_PID does not name this process"));
    }
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| fail("LISTEN_FDS must be a number from 1 to 64"))?;
    let mut listeners = Vec::new();
    for fd in 3..3 + count {
        if !is_listening_tcp_socket(fd) {
            return Err(fail(&format!(
                "descriptor {} is not a listening TCP socket",
                fd
            )));
        }
        // SAFETY: systemd hands these descriptors to this process (LISTEN_PID
        // checked above) and nothing else owns them; we verified each is a
        // listening stream socket.
        let listener = unsafe { TcpListener::from_raw_fd(fd) };
        set_nodelay(&listener);
        listeners.push(listener);
    }
    Ok(listeners)
}

fn is_listening_tcp_socket(fd: i32) -> bool {
    let int_option = |level, name| {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are valid out-pointers of the right size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                &mut value as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        (rc == 0).then_some(value)
    };
    int_option(libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && int_option(libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(1)
}

/// Sets `TCP_NODELAY` on a listening socket. Linux copies it to every
/// accepted socket, which avoids a 40 ms Nagle stall on responses
/// over 1 KiB (header and body leave in separate writes).
fn set_nodelay(listener: &TcpListener) {
    let one: libc::c_int = 1;
    // SAFETY: the fd is a valid socket owned by `listener`; the option value
    // points to a c_int that lives for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::warn(
            "could not set TCP_NODELAY on listener",
            &[("err", &io::Error::last_os_error())],
        );
    }
}

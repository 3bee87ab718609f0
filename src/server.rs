//! Listeners and the worker pool on tiny_http; the only module naming it.
//!
//! Binds parsed socket addresses (no DNS), sets `TCP_NODELAY` on each
//! listener, runs a small fixed pool of workers per listener that convert
//! tiny_http requests into [`crate::http::Request`], call the router, and
//! write the answer back. Bodies are read with the configured bound so an
//! oversized push costs at most `limit + 1` bytes of memory.

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::ListenAddress;
use crate::http::{Body, Method, Request, Response};
use crate::log;
use crate::router::App;

/// Worker threads per listener. Pushes and scrapes are short; a few workers
/// keep a slow scrape from blocking pushes without spending memory on stacks.
const WORKERS_PER_LISTENER: usize = 8;

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

/// Raises the soft limit on open descriptors to the hard limit. tiny_http
/// holds two descriptors per connection (it duplicates each socket), so the
/// common soft default of 1024 caps pushgate at ~500 clients; at the limit
/// its accept thread stops for good. Returns the new soft limit.
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
/// accepted socket, which avoids tiny_http's 40 ms Nagle stall on responses
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

/// How long a worker waits for a request before it looks at the shutdown
/// and restart flags again.
const POLL: Duration = Duration::from_millis(250);

/// Counts panics in threads without a name. All of pushgate's threads are
/// named; tiny_http's accept and connection threads are not, and its accept
/// thread panics (`try_clone().unwrap()`) when descriptors run out, after
/// which it never accepts again.
static LIBRARY_PANICS: AtomicU64 = AtomicU64::new(0);

/// Least time between two restarts of one accept loop: while descriptors
/// are exhausted every new loop fails at once, and each costs threads.
const RESTART_BACKOFF: Duration = Duration::from_millis(500);

/// Installs a panic hook that flags panics in tiny_http's threads (see
/// [`LIBRARY_PANICS`]) and then reports the panic as usual.
pub fn watch_library_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name().is_none() {
            LIBRARY_PANICS.fetch_add(1, Ordering::SeqCst);
        }
        default_hook(info);
    }));
}

/// One listening socket and the tiny_http server currently accepting on it.
///
/// tiny_http 0.12 ends its accept thread for good on the first `accept()`
/// error (e.g. EMFILE) and panics in it when `try_clone` fails. We keep our
/// own duplicate of the listening socket, so the port stays bound, and build
/// a fresh server on it when the old one stops accepting. The store is not
/// involved, so nothing pushed is lost.
struct Endpoint {
    listener: TcpListener,
    local: SocketAddr,
    current: Mutex<Arc<tiny_http::Server>>,
    /// The current server stopped accepting and is not replaced yet.
    broken: AtomicBool,
    /// `LIBRARY_PANICS` as of this endpoint's last look.
    panics_seen: AtomicU64,
    last_restart: Mutex<Option<Instant>>,
}

impl Endpoint {
    fn new(listener: TcpListener) -> io::Result<Endpoint> {
        let local = listener.local_addr()?;
        let server = new_server(&listener)?;
        Ok(Endpoint {
            listener,
            local,
            current: Mutex::new(server),
            broken: AtomicBool::new(false),
            panics_seen: AtomicU64::new(LIBRARY_PANICS.load(Ordering::SeqCst)),
            last_restart: Mutex::new(None),
        })
    }

    fn server(&self) -> Arc<tiny_http::Server> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Notes a panic in a library thread since the last look: it may have
    /// been this endpoint's accept thread, so treat the server as broken.
    fn check_library_panics(&self) {
        let now = LIBRARY_PANICS.load(Ordering::SeqCst);
        if self.panics_seen.swap(now, Ordering::SeqCst) != now {
            self.broken.store(true, Ordering::SeqCst);
        }
    }

    /// Replaces `stale` with a new server unless another worker already did
    /// or the last restart was less than [`RESTART_BACKOFF`] ago; answers what
    /// the old server had queued. On failure (e.g. still no descriptors) the
    /// endpoint stays marked broken and a later poll tries again.
    fn restart(&self, stale: &Arc<tiny_http::Server>, app: &App) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if !Arc::ptr_eq(&current, stale) {
            return;
        }
        {
            let mut last = self.last_restart.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < RESTART_BACKOFF) {
                return;
            }
            *last = Some(Instant::now());
        }
        match new_server(&self.listener) {
            Ok(fresh) => {
                let old = std::mem::replace(&mut *current, fresh);
                self.broken.store(false, Ordering::SeqCst);
                drop(current);
                log::warn("HTTP accept loop restarted", &[("address", &self.local)]);
                while let Ok(Some(request)) = old.try_recv() {
                    serve(request, app);
                }
            }
            Err(e) => log::error(
                "cannot restart the HTTP accept loop; will retry",
                &[("address", &self.local), ("err", &e)],
            ),
        }
    }
}

fn new_server(listener: &TcpListener) -> io::Result<Arc<tiny_http::Server>> {
    let dup = listener.try_clone()?;
    tiny_http::Server::from_listener(dup, None)
        .map(Arc::new)
        .map_err(io::Error::other)
}

/// Running servers and their workers.
pub struct Servers {
    endpoints: Vec<Arc<Endpoint>>,
    workers: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

/// Starts serving `app` on every listener.
pub fn start(app: Arc<App>, listeners: Vec<TcpListener>) -> io::Result<Servers> {
    let stopping = Arc::new(AtomicBool::new(false));
    let mut endpoints = Vec::new();
    let mut workers = Vec::new();
    for listener in listeners {
        let endpoint = Arc::new(Endpoint::new(listener)?);
        log::info("Listening on", &[("address", &endpoint.local)]);
        for i in 0..WORKERS_PER_LISTENER {
            let (endpoint, app, stopping) = (endpoint.clone(), app.clone(), stopping.clone());
            let handle = std::thread::Builder::new()
                .name(format!("http-{}-{}", endpoint.local.port(), i))
                .spawn(move || work(&endpoint, &app, &stopping))?;
            workers.push(handle);
        }
        endpoints.push(endpoint);
    }
    Ok(Servers {
        endpoints,
        workers,
        stopping,
    })
}

impl Servers {
    /// Stops taking new requests, lets in-flight requests finish, and
    /// closes the listeners.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for w in self.workers {
            if w.join().is_err() {
                log::error("an HTTP worker thread panicked", &[]);
            }
        }
        // Dropping the endpoints drops each server (its accept thread ends)
        // and our copy of each listening socket.
        drop(self.endpoints);
    }
}

fn work(endpoint: &Endpoint, app: &App, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        let server = endpoint.server();
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => serve(request, app),
            Ok(None) => {
                endpoint.check_library_panics();
                if endpoint.broken.load(Ordering::SeqCst) {
                    endpoint.restart(&server, app);
                }
            }
            Err(e) => {
                // tiny_http queues the accept error and ends its accept thread.
                log::error(
                    "HTTP accept loop stopped",
                    &[("address", &endpoint.local), ("err", &e)],
                );
                endpoint.broken.store(true, Ordering::SeqCst);
                endpoint.restart(&server, app);
            }
        }
    }
}

fn serve(mut request: tiny_http::Request, app: &App) {
    let converted = match convert(&mut request, app.config.max_body_bytes) {
        Ok(r) => r,
        Err(resp) => {
            respond(request, resp);
            return;
        }
    };
    let resp = app.handle(&converted);
    respond(request, resp);
}

fn respond(request: tiny_http::Request, resp: Response) {
    let mut out = tiny_http::Response::from_data(resp.body.to_vec()).with_status_code(resp.status);
    for (name, value) in &resp.headers {
        match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(h) => out.add_header(h),
            Err(()) => log::warn("dropping invalid response header", &[("name", name)]),
        }
    }
    if let Err(e) = request.respond(out) {
        // The client went away; nothing to do but note it.
        log::debug("could not send response", &[("err", &e)]);
    }
}

/// tiny_http request → pushgate request; an unusable URL gets its answer.
fn convert(request: &mut tiny_http::Request, max_body: u64) -> Result<Request, Response> {
    let raw_url = request.url().to_string();
    let raw_path = raw_url.split('?').next().unwrap_or("");
    let path = percent_decode(raw_path.as_bytes()).map_err(|bad| {
        Response::error(
            400,
            &format!("invalid URL escape {}", crate::gofmt::quote(&bad)),
        )
    })?;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    if let Some(msg) = headers_too_large(&headers) {
        return Err(Response::error(431, &msg));
    }
    let body = read_body(request.as_reader(), max_body)
        .map_err(|e| Response::error(400, &format!("cannot read request body: {}", e)))?;
    Ok(Request {
        method: Method::parse(request.method().as_str()),
        path,
        raw_url,
        headers,
        body,
        remote_addr: request.remote_addr().copied(),
    })
}

/// Most header fields and header bytes a request may carry (Go's
/// `http.Server` default is 1 MiB). tiny_http reads headers before we see
/// them and has no bound of its own, so this refuses oversized requests
/// rather than preventing the read; see the README on what remains.
const MAX_HEADER_FIELDS: usize = 256;
const MAX_HEADER_BYTES: usize = 1 << 20;

fn headers_too_large(headers: &[(String, String)]) -> Option<String> {
    let bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADER_FIELDS {
        return Some(format!(
            "request has {} header fields, more than the {} allowed",
            headers.len(),
            MAX_HEADER_FIELDS
        ));
    }
    (bytes > MAX_HEADER_BYTES).then(|| {
        format!(
            "request headers are {} bytes, more than the {} allowed",
            bytes, MAX_HEADER_BYTES
        )
    })
}

/// Reads at most `limit + 1` bytes (0 = unlimited) and reports whether the
/// body exceeded the limit.
fn read_body(reader: &mut dyn Read, limit: u64) -> io::Result<Body> {
    let mut buf = Vec::new();
    if limit == 0 {
        reader.read_to_end(&mut buf)?;
        return Ok(Body::Complete(buf));
    }
    reader.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Ok(Body::TooLarge { limit });
    }
    Ok(Body::Complete(buf))
}

/// Decodes `%XX` escapes; returns the offending escape on malformed input.
fn percent_decode(input: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3).ok_or_else(|| input[i..].to_vec())?;
            let s = std::str::from_utf8(hex).map_err(|_| input[i..i + 3].to_vec())?;
            let byte = u8::from_str_radix(s, 16).map_err(|_| input[i..i + 3].to_vec())?;
            out.push(byte);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"/a%2Fb"), Ok(b"/a/b".to_vec()));
        assert_eq!(percent_decode(b"/%FF"), Ok(vec![b'/', 0xff]));
        assert_eq!(percent_decode(b"/%zz"), Err(b"%zz".to_vec()));
        assert_eq!(percent_decode(b"/%f"), Err(b"%f".to_vec()));
    }

    #[test]
    fn oversized_headers_are_refused() {
        let few = vec![("Host".to_string(), "x".to_string())];
        assert_eq!(headers_too_large(&few), None);
        let many: Vec<(String, String)> =
            (0..300).map(|i| (format!("X-{i}"), "v".into())).collect();
        assert!(headers_too_large(&many).is_some_and(|m| m.contains("300 header fields")));
        let big = vec![("X-Big".to_string(), "v".repeat(MAX_HEADER_BYTES))];
        assert!(headers_too_large(&big).is_some_and(|m| m.contains("bytes")));
    }

    #[test]
    fn body_limit_accepts_exactly_limit() {
        let mut exact: &[u8] = &[b'x'; 100];
        assert!(matches!(read_body(&mut exact, 100), Ok(Body::Complete(b)) if b.len() == 100));
        let mut over: &[u8] = &[b'x'; 101];
        assert!(matches!(
            read_body(&mut over, 100),
            Ok(Body::TooLarge { limit: 100 })
        ));
        let mut unlimited: &[u8] = &[b'x'; 1000];
        assert!(matches!(read_body(&mut unlimited, 0), Ok(Body::Complete(b)) if b.len() == 1000));
    }
}

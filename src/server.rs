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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

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

/// Running servers and their workers.
pub struct Servers {
    servers: Vec<Arc<tiny_http::Server>>,
    workers: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

/// Starts serving `app` on every listener.
pub fn start(app: Arc<App>, listeners: Vec<TcpListener>) -> io::Result<Servers> {
    let stopping = Arc::new(AtomicBool::new(false));
    let mut servers = Vec::new();
    let mut workers = Vec::new();
    for listener in listeners {
        let local = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map(Arc::new)
            .map_err(io::Error::other)?;
        log::info("Listening on", &[("address", &local)]);
        for i in 0..WORKERS_PER_LISTENER {
            let (server, app, stopping) = (server.clone(), app.clone(), stopping.clone());
            let handle = std::thread::Builder::new()
                .name(format!("http-{}-{}", local.port(), i))
                .spawn(move || work(&server, &app, &stopping))?;
            workers.push(handle);
        }
        servers.push(server);
    }
    Ok(Servers {
        servers,
        workers,
        stopping,
    })
}

impl Servers {
    /// Stops taking new requests, lets in-flight requests finish, and
    /// closes the listeners.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for server in &self.servers {
            for _ in 0..WORKERS_PER_LISTENER {
                server.unblock();
            }
        }
        for w in self.workers {
            if w.join().is_err() {
                log::error("an HTTP worker thread panicked", &[]);
            }
        }
        // Dropping the last reference closes each listener.
        drop(self.servers);
    }
}

fn work(server: &tiny_http::Server, app: &App, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => {
                if stopping.load(Ordering::SeqCst) {
                    // Shutting down: answer rather than drop what was queued.
                    respond(request, Response::error(503, "shutting down"));
                    break;
                }
                serve(request, app);
            }
            Err(e) => {
                // recv fails only on unblock() or a broken server; back off
                // so a persistent error cannot spin a core.
                log::debug("recv failed", &[("err", &e)]);
                std::thread::sleep(Duration::from_millis(10));
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
    let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
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
    let headers = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
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

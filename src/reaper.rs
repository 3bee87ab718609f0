//! Closes client connections that have been silent too long.
//!
//! tiny_http 0.12 has no read, write or idle timeouts and spends a thread and
//! two descriptors on every connection, so idle keep-alive clients and stalled
//! ones would pile up forever. A sweep every few seconds looks at this
//! process's connected TCP sockets on our listening ports (`/proc/self/fd`),
//! asks the kernel (`TCP_INFO`) how long ago data last moved in either
//! direction, and shuts down those idle for longer than the limit; tiny_http's
//! blocked read then fails and it closes the connection itself.
//!
//! What remains (documented in the README): a client that trickles a byte
//! more often than the limit (slowloris) keeps its connection; the systemd
//! unit's `LimitNOFILE` and `TasksMax` bound what such clients can hold.

use std::collections::HashSet;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::log;

/// Starts the sweeping thread for connections to `ports`.
pub fn spawn(ports: Vec<u16>, idle_limit: Duration) {
    let interval = (idle_limit / 2).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let ports: HashSet<u16> = ports.into_iter().collect();
    let spawned = std::thread::Builder::new()
        .name("idle-reaper".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            let closed = sweep(&ports, idle_limit);
            if closed > 0 {
                log::debug("closed idle connections", &[("count", &closed)]);
            }
        });
    if let Err(e) = spawned {
        log::error("cannot start the idle connection reaper", &[("err", &e)]);
    }
}

/// One sweep; returns how many connections were shut down.
fn sweep(ports: &HashSet<u16>, idle_limit: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let limit_ms = u32::try_from(idle_limit.as_millis()).unwrap_or(u32::MAX);
    let mut closed = 0;
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        if !is_client_connection(fd, ports) {
            continue;
        }
        if idle_ms(fd).is_some_and(|idle| idle > limit_ms) {
            // The descriptor could in theory be closed and reused between the
            // checks above and this call; the window is microseconds and the
            // worst case is one fresh connection being reset.
            // SAFETY: shutdown on a descriptor number has no memory effects;
            // it fails harmlessly if the descriptor is no longer a socket.
            if unsafe { libc::shutdown(fd, libc::SHUT_RDWR) } == 0 {
                closed += 1;
            }
        }
    }
    closed
}

/// True if `fd` is a connected (not listening) TCP socket whose local port is one of `ports`.
fn is_client_connection(fd: RawFd, ports: &HashSet<u16>) -> bool {
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out-pointers of the right size; fails for non-sockets.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            &mut accepting as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 || accepting != 0 {
        return false;
    }
    local_port(fd).is_some_and(|p| ports.contains(&p))
}

fn local_port(fd: RawFd) -> Option<u16> {
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: addr/len describe a buffer large enough for any address.
    let rc = unsafe { libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) };
    if rc != 0 {
        return None;
    }
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin = unsafe { &*(&addr as *const _ as *const libc::sockaddr_in) };
            Some(u16::from_be(sin.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(&addr as *const _ as *const libc::sockaddr_in6) };
            Some(u16::from_be(sin6.sin6_port))
        }
        _ => None,
    }
}

/// Milliseconds since data last moved on the connection, in either direction.
fn idle_ms(fd: RawFd) -> Option<u32> {
    // SAFETY: tcp_info is plain data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info/len describe a buffer of the struct's size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0).then(|| info.tcpi_last_data_recv.min(info.tcpi_last_data_sent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn idle_connections_on_our_port_are_shut_down_and_others_kept() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (server_side, _) = listener.accept().expect("accept");
        assert!(is_client_connection(
            server_side.as_raw_fd(),
            &HashSet::from([port])
        ));
        assert!(!is_client_connection(
            listener.as_raw_fd(),
            &HashSet::from([port])
        ));
        std::thread::sleep(Duration::from_millis(300));
        // Not our port: untouched. Our port: shut down after 100 ms of silence.
        assert_eq!(
            sweep(
                &HashSet::from([port.wrapping_add(1)]),
                Duration::from_millis(100)
            ),
            0
        );
        assert!(sweep(&HashSet::from([port]), Duration::from_millis(100)) >= 1);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).expect("EOF, not a timeout"), 0);
        drop(server_side);
    }

    #[test]
    fn busy_connections_are_kept() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (_server_side, _) = listener.accept().expect("accept");
        assert_eq!(sweep(&HashSet::from([port]), Duration::from_secs(60)), 0);
    }
}

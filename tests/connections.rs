//! Connection robustness (project issues 7 and 13): idle connections,
//! descriptor exhaustion and bursts of keep-alive clients must not stop
//! pushgate from serving, and never cost the store. tests/hostile.rs has
//! the slow, huge and malformed clients.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{read_one_response, try_request, upstream, Gateway};

/// Retries `f` every 100 ms until it returns true or `limit` passes.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn push_and_scrape_work(gw: &Gateway, job: &str) -> bool {
    let path = format!("/metrics/job/{job}");
    let pushed = try_request(gw.addr(), "PUT", &path, b"alive 1\n").is_ok_and(|r| r.status == 200);
    pushed
        && try_request(gw.addr(), "GET", "/metrics", b"")
            .is_ok_and(|r| r.status == 200 && r.text().contains(&format!("job=\"{job}\"")))
}

#[test]
fn a_thousand_idle_connections_do_not_block_pushes_and_scrapes() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(gw.addr()).expect("connect an idle client"));
    }
    // Half of them start a request and stall in the middle of the headers.
    for conn in idle.iter_mut().step_by(2) {
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .expect("partial request");
    }
    for i in 0..20 {
        let job = format!("busy{i}");
        assert!(
            push_and_scrape_work(&gw, &job),
            "push/scrape {i} failed with 1000 idle connections open"
        );
    }
    drop(idle);
}

#[test]
fn sixty_four_new_keep_alive_connections_are_each_answered() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let addr = gw.addr();
    let start = std::sync::Arc::new(std::sync::Barrier::new(64));
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let start = start.clone();
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).expect("connect");
                conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
                start.wait();
                let body = format!("m{i} 1\n");
                let req = format!(
                    "PUT /metrics/job/ka{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(req.as_bytes()).expect("send");
                let resp = read_one_response(&conn).expect("answer on a keep-alive connection");
                assert_eq!(resp.status, 200);
            })
        })
        .collect();
    // Each answer within the client's 10 s read timeout; latency is
    // measured by scripts, not asserted here.
    for c in clients {
        c.join().expect("client thread");
    }
}

/// Starts pushgate with RLIMIT_NOFILE fixed at `limit` (soft and hard, like
/// `ulimit -n`), so raising it at start cannot help.
fn start_with_fd_limit(limit: u64) -> Gateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushgate"));
    command.arg("--web.listen-address=127.0.0.1:0");
    // SAFETY: setrlimit is async-signal-safe and only affects the child.
    unsafe {
        command.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Gateway::spawn(command)
}

#[test]
fn serving_recovers_after_descriptors_run_out() {
    if upstream() {
        return;
    }
    let gw = start_with_fd_limit(64);
    assert!(
        push_and_scrape_work(&gw, "before"),
        "gateway works before the flood"
    );
    // 100 connections are more than 64 descriptors allow: the server caps
    // connections below its descriptor limit and evicts the oldest idle ones.
    let mut flood = Vec::new();
    for _ in 0..100 {
        match TcpStream::connect_timeout(&gw.addr(), Duration::from_secs(1)) {
            Ok(c) => flood.push(c),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(flood);
    assert!(
        within(Duration::from_secs(10), || push_and_scrape_work(
            &gw, "after"
        )),
        "pushes and scrapes did not work again after the descriptors were released"
    );
    // The store survived: the group pushed before the flood is still there.
    let scrape = gw.get("/metrics").text();
    assert!(scrape.contains("job=\"before\""), "{scrape}");
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    use std::io::Read;
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.idle-timeout=1s"]);
    let mut idle = TcpStream::connect(gw.addr()).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(8)))
        .expect("read timeout");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = idle
        .read(&mut buf)
        .expect("the server closes the connection, not a read timeout");
    assert_eq!(n, 0, "expected EOF");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
    // A client that keeps talking is not affected.
    assert!(push_and_scrape_work(&gw, "still"));
}

//! Hostile clients against the HTTP server (project issue 13): every case
//! of the issue and every framing rule, each followed by a check that the
//! process is alive, `/-/healthy` answers and the store holds exactly what
//! was acknowledged. pushgate only (upstream has no such bounds).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{read_one_response, try_request, upstream, Gateway};

/// Sends `bytes` on a new connection and returns everything the server
/// answers until it closes the connection or `limit` passes.
fn exchange(addr: SocketAddr, bytes: &[u8], limit: Duration) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let _ = conn.write_all(bytes);
    read_until_close(&mut conn, limit).0
}

/// What arrived, and whether the server closed the connection within `limit`.
fn read_until_close(conn: &mut TcpStream, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        conn.set_read_timeout(Some(left)).expect("read timeout");
        match conn.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into_owned(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

fn status_of(answer: &str) -> Option<u16> {
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// All status codes in an answer holding several responses.
fn statuses(answer: &str) -> Vec<u16> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|r| r.get(..3)?.parse().ok())
        .collect()
}

/// The stored groups (own families left out), to compare before and after.
fn stored(gw: &Gateway) -> Vec<String> {
    gw.scrape_raw_lines()
}

/// The process answers and the store is exactly `before`.
#[track_caller]
fn assert_intact(gw: &Gateway, before: &[String]) {
    let health = gw.get("/-/healthy");
    assert_eq!(health.status, 200, "/-/healthy: {}", health.text());
    assert_eq!(stored(gw), before, "the store changed");
}

fn push_victim(gw: &Gateway) -> Vec<String> {
    assert_eq!(
        gw.put("/metrics/job/victim", b"victim_metric 1\n").status,
        200
    );
    stored(gw)
}

fn vm_hwm_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

fn refusals(gw: &Gateway, reason: &str) -> f64 {
    let text = gw.get("/metrics").text();
    let prefix = format!("pushgate_http_refusals_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in the scrape"))
}

/// A web config requiring basic auth (user `u`, password `p`).
struct AuthFile(PathBuf);

impl AuthFile {
    fn new(name: &str) -> AuthFile {
        let hash = bcrypt::hash("p", 4).expect("bcrypt");
        AuthFile::with_text(name, &format!("basic_auth_users:\n  u: {hash}\n"))
    }

    fn with_text(name: &str, text: &str) -> AuthFile {
        let dir =
            std::env::temp_dir().join(format!("pushgate-it-hostile-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("web.yml"), text).expect("write web config");
        AuthFile(dir)
    }

    fn flag(&self) -> String {
        format!("--web.config.file={}", self.0.join("web.yml").display())
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Raises this process's descriptor limit to its hard limit; returns it.
fn raise_own_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer; setrlimit gets an initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// A push and a scrape on fresh connections, each answered within 1 s
/// (the liveness deadline).
#[track_caller]
fn fresh_push_and_scrape_within_a_second(gw: &Gateway, job: &str) {
    let t = Instant::now();
    let pushed = try_request(
        gw.addr(),
        "PUT",
        &format!("/metrics/job/{job}"),
        b"fresh 1\n",
    )
    .expect("fresh push");
    let push_time = t.elapsed();
    assert_eq!(pushed.status, 200);
    let t = Instant::now();
    let scraped = try_request(gw.addr(), "GET", "/metrics", b"").expect("fresh scrape");
    let scrape_time = t.elapsed();
    assert!(scraped.text().contains(&format!("job=\"{job}\"")));
    assert!(
        push_time < Duration::from_secs(1) && scrape_time < Duration::from_secs(1),
        "push took {push_time:?}, scrape {scrape_time:?}"
    );
}

const PUSH_HEAD: &str = "PUT /metrics/job/x HTTP/1.1\r\nHost: x\r\n";

// Case 1: a huge declared length is refused before any byte is read.
#[test]
fn case_1_huge_content_length_gets_413_without_reading() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let answer = exchange(
        gw.addr(),
        format!("{PUSH_HEAD}Content-Length: 100000000000\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(413), "{answer}");
    assert!(
        answer.contains("request body exceeds the limit of 67108864 bytes"),
        "{answer}"
    );
    // Streamed: a declared 1 GiB body, of which 8 MiB arrive, costs nothing.
    let hwm = vm_hwm_kib(gw.pid());
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(format!("{PUSH_HEAD}Content-Length: 1073741824\r\n\r\n").as_bytes())
        .expect("head");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..8 {
        if conn.write_all(&chunk).is_err() {
            break; // closed after the 413
        }
    }
    let (answer, _) = read_until_close(&mut conn, Duration::from_secs(5));
    assert_eq!(status_of(&answer), Some(413), "{answer}");
    assert!(
        vm_hwm_kib(gw.pid()) < hwm + 4096,
        "peak RSS grew by more than 4 MiB"
    );
    assert_intact(&gw, &before);
    assert!(refusals(&gw, "body_too_large") >= 2.0);
}

#[test]
fn case_1_with_basic_auth_401_then_alive() {
    if upstream() {
        return;
    }
    let auth = AuthFile::new("c1");
    let gw = Gateway::start(&[&auth.flag()]);
    let answer = exchange(
        gw.addr(),
        format!("{PUSH_HEAD}Content-Length: 100000000000\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(401), "{answer}");
    // Authenticated: 413.
    let answer = exchange(
        gw.addr(),
        format!("{PUSH_HEAD}Authorization: Basic dTpw\r\nContent-Length: 100000000000\r\n\r\n")
            .as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(413), "{answer}");
    let health = gw.request("GET", "/-/healthy", &[("Authorization", "Basic dTpw")], b"");
    assert_eq!(health.status, 200);
}

// Case 2: lengths beyond 2^63-1 are refused, and the workers survive.
#[test]
fn case_2_absurd_content_length_on_health_gets_400() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    for _ in 0..16 {
        let answer = exchange(
            gw.addr(),
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n",
            Duration::from_secs(5),
        );
        assert_eq!(status_of(&answer), Some(400), "{answer}");
        assert!(answer.contains("Connection: close"), "{answer}");
    }
    assert_intact(&gw, &before);
}

// Case 3: silent or trickling bodies do not hold workers (4x the 8 workers).
#[test]
fn case_3_slow_bodies_do_not_stop_service() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let mut slow = Vec::new();
    for i in 0..32 {
        let mut c = TcpStream::connect(gw.addr()).expect("connect");
        c.write_all(format!("PUT /metrics/job/slow{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nslow 1").as_bytes())
            .expect("partial push");
        slow.push(c);
    }
    thread::sleep(Duration::from_millis(300));
    for round in 0..3 {
        for c in slow.iter_mut() {
            let _ = c.write_all(b" ");
        }
        fresh_push_and_scrape_within_a_second(&gw, &format!("fresh{round}"));
    }
    drop(slow);
    // Only the fresh pushes changed the store; no slow push was applied.
    let now = stored(&gw);
    assert!(
        !now.iter().any(|l| l.contains("slow")),
        "a partial body was stored"
    );
    assert_eq!(gw.get("/-/healthy").status, 200);
    assert!(now.len() > before.len());
}

/// Starts pushgate with a persistence file in `dir`.
fn start_persisting(dir: &std::path::Path, extra: &[&str]) -> Gateway {
    let file = format!("--persistence.file={}", dir.join("store.db").display());
    let mut flags = vec![file.as_str()];
    flags.extend_from_slice(extra);
    Gateway::start(&flags)
}

// Case 4: SIGTERM with bodies trickling ends the process within the grace
// period, and every acknowledged push is in the final snapshot.
#[test]
fn case_4_sigterm_during_trickling_bodies_exits_and_keeps_acknowledged_pushes() {
    if upstream() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pushgate-it-hostile-{}-c4", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut gw = start_persisting(&dir, &["--web.shutdown-timeout=2s"]);
    for i in 0..5 {
        let r = gw.put(&format!("/metrics/job/acked{i}"), b"acked 1\n");
        assert_eq!(r.status, 200);
    }
    let mut trickling = Vec::new();
    for i in 0..32 {
        let mut c = TcpStream::connect(gw.addr()).expect("connect");
        c.write_all(
            format!(
                "PUT /metrics/job/unacked{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nm 1"
            )
            .as_bytes(),
        )
        .expect("partial");
        trickling.push(c);
    }
    thread::sleep(Duration::from_millis(300));
    // SAFETY: kill sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(gw.pid(), libc::SIGTERM) }, 0);
    let started = Instant::now();
    let status = gw
        .wait_for_exit(Duration::from_secs(10))
        .expect("exited after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    for c in trickling.iter_mut() {
        // Nobody acknowledged a trickling push.
        let (answer, _) = read_until_close(c, Duration::from_secs(2));
        assert!(!answer.contains(" 200 "), "{answer}");
    }
    let gw = start_persisting(&dir, &[]);
    let lines = stored(&gw).join("\n");
    for i in 0..5 {
        assert!(
            lines.contains(&format!("job=\"acked{i}\"")),
            "acked{i} lost:\n{lines}"
        );
    }
    assert!(!lines.contains("unacked"), "{lines}");
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

// Case 5: bursts of new keep-alive connections are all answered.
#[test]
fn case_5_three_bursts_of_64_keep_alive_connections_are_all_answered() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let addr = gw.addr();
    for round in 0..3 {
        let start = Arc::new(std::sync::Barrier::new(64));
        let clients: Vec<_> = (0..64)
            .map(|i| {
                let start = start.clone();
                thread::spawn(move || -> u16 {
                    let mut conn = TcpStream::connect(addr).expect("connect");
                    conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
                    start.wait();
                    let body = format!("m{i} 1\n");
                    let req = format!(
                        "PUT /metrics/job/ka{round}_{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    conn.write_all(req.as_bytes()).expect("send");
                    let first = read_one_response(&conn).expect("answer").status;
                    // And the connection stays usable.
                    conn.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
                    let second = read_one_response(&conn).expect("second answer").status;
                    first.max(second)
                })
            })
            .collect();
        for c in clients {
            assert_eq!(c.join().expect("client thread"), 200);
        }
    }
}

// Case 6: request smuggling through a chunk error is impossible.
#[test]
fn case_6_smuggled_request_after_a_chunk_error_is_never_run() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let answer = exchange(
        gw.addr(),
        b"PUT /metrics/job/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nDELETE /metrics/job/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(statuses(&answer), vec![400], "{answer}");
    assert!(answer.contains("Connection: close"), "{answer}");
    assert_intact(&gw, &before);
    assert!(refusals(&gw, "bad_framing") >= 1.0);
}

/// Sends a request whose head carries `fields`, and a body `body`.
fn framing_answer(gw: &Gateway, fields: &str, body: &str) -> (String, bool) {
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    let req = format!("PUT /metrics/job/f HTTP/1.1\r\nHost: x\r\n{fields}\r\n\r\n{body}");
    conn.write_all(req.as_bytes()).expect("send");
    read_until_close(&mut conn, Duration::from_secs(3))
}

#[test]
fn framing_rules_table() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    // (fields, body, status, closes)
    let refused: &[(&str, &str, u16)] = &[
        ("Transfer-Encoding: gzip", "", 501),
        ("Transfer-Encoding: gzip, chunked", "", 501),
        ("Transfer-Encoding: chunked, chunked", "", 501),
        ("Transfer-Encoding: identity", "", 501),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 6",
            "f 1\n",
            400,
        ),
        (
            "Content-Length: 4\r\nTransfer-Encoding: chunked",
            "f 1\n",
            400,
        ),
        ("Content-Length: abc", "", 400),
        ("Content-Length: -4", "", 400),
        ("Content-Length: +4", "f 1\n", 400),
        ("Content-Length: 4, 4", "f 1\n", 400),
        ("Content-Length: 4\r\nContent-Length: 5", "f 1\n", 400),
        ("Content-Length: 99999999999999999999", "", 400),
        ("X: a\0b\r\nContent-Length: 4", "f 1\n", 400),
        ("X: a\rb\r\nContent-Length: 4", "f 1\n", 400),
        ("Content-Length : 4", "f 1\n", 400),
        ("Content-Length: 4\r\n folded", "f 1\n", 400),
    ];
    for (fields, body, status) in refused {
        let (answer, closed) = framing_answer(&gw, fields, body);
        assert_eq!(status_of(&answer), Some(*status), "{fields:?}: {answer}");
        assert!(closed, "{fields:?}: connection kept open");
        assert!(answer.contains("Connection: close"), "{fields:?}: {answer}");
        assert_intact(&gw, &before);
    }
    // Identical duplicates are accepted, as Go does.
    let (answer, _) = framing_answer(
        &gw,
        "Content-Length: 4\r\nContent-Length: 4\r\nConnection: close",
        "f 1\n",
    );
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    // Control bytes in the target.
    for target in ["/metrics\rx", "/metrics\0x", "/me trics/x"] {
        let answer = exchange(
            gw.addr(),
            format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
            Duration::from_secs(3),
        );
        assert_eq!(status_of(&answer), Some(400), "{target:?}: {answer}");
    }
    // Missing Host in HTTP/1.1, as Go.
    let answer = exchange(
        gw.addr(),
        b"GET /-/healthy HTTP/1.1\r\n\r\n",
        Duration::from_secs(3),
    );
    assert_eq!(status_of(&answer), Some(400), "{answer}");
}

// Case 7: a bare LF in the target cannot inject a response header.
#[test]
fn case_7_bare_lf_in_target_gets_400_and_no_injected_header() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let answer = exchange(
        gw.addr(),
        b"GET //metrics\nSet-Cookie:pwned=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(400), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("set-cookie"),
        "{answer}"
    );
    assert_eq!(gw.get("/-/healthy").status, 200);
}

// Case 8: an endless header line is cut at 1 MiB.
#[test]
fn case_8_endless_header_gets_431_at_one_mebibyte() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let hwm = vm_hwm_kib(gw.pid());
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        .expect("head");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    // Up to 8 MiB; the server closes after 1 MiB.
    while sent < 8 << 20 {
        if conn.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let (answer, closed) = read_until_close(&mut conn, Duration::from_secs(5));
    assert!(closed);
    // The 431 may be lost to a reset if the client kept writing; when it
    // arrived it must be 431.
    if let Some(status) = status_of(&answer) {
        assert_eq!(status, 431, "{answer}");
    }
    assert!(
        vm_hwm_kib(gw.pid()) < hwm + 8192,
        "peak RSS grew by more than 8 MiB"
    );
    assert!(refusals(&gw, "head_too_large") >= 1.0);
    // Too many fields: 431 too.
    let many: String = (0..300).map(|i| format!("X-{i}: v\r\n")).collect();
    let answer = exchange(
        gw.addr(),
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(431), "{answer}");
    assert_intact(&gw, &before);
}

// Case 9: bodies are not read before authentication.
#[test]
fn case_9_unauthenticated_bodies_are_not_read() {
    if upstream() {
        return;
    }
    let auth = AuthFile::new("c9");
    let gw = Gateway::start(&[&auth.flag()]);
    let hwm = vm_hwm_kib(gw.pid());
    let addr = gw.addr();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).expect("connect");
                let size = 48usize << 20;
                conn.write_all(format!("{PUSH_HEAD}Content-Length: {size}\r\n\r\n").as_bytes())
                    .expect("head");
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..48 {
                    if conn.write_all(&chunk).is_err() {
                        break;
                    }
                }
                read_until_close(&mut conn, Duration::from_secs(5)).0
            })
        })
        .collect();
    for c in clients {
        let answer = c.join().expect("client");
        if let Some(status) = status_of(&answer) {
            assert_eq!(status, 401, "{answer}");
        }
    }
    let grown = vm_hwm_kib(gw.pid()).saturating_sub(hwm);
    assert!(grown < 8192, "peak RSS grew by {grown} KiB");
    // With Expect: 100-continue the client learns before sending anything.
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.write_all(
        format!("{PUSH_HEAD}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n").as_bytes(),
    )
    .expect("head");
    let (answer, _) = read_until_close(&mut conn, Duration::from_secs(5));
    assert_eq!(status_of(&answer), Some(401), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
}

// Case 10: metric names are bounded like label names.
#[test]
fn case_10_megabyte_metric_name_gets_400() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let body = format!("{} 1\n", "m".repeat(1 << 20));
    let resp = gw.put("/metrics/job/long", body.as_bytes());
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.text().contains("--push.max-metric-name-length"),
        "{}",
        resp.text()
    );
    assert!(resp.text().len() < 300, "the message is one short line");
    assert_intact(&gw, &before);
}

#[test]
fn expect_continue_and_body_limits() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--push.max-body-bytes=10"]);
    assert_eq!(gw.put("/metrics/job/victim", b"v 1\n").status, 200);
    let before = stored(&gw);
    // 100 Continue after admission, then the answer.
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(b"PUT /metrics/job/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n")
        .expect("head");
    let mut first = [0u8; 25];
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    conn.read_exact(&mut first).expect("100 Continue");
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"e 1\n").expect("body");
    let (answer, _) = read_until_close(&mut conn, Duration::from_secs(5));
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    // A declared length over the limit: 413, no 100 Continue.
    let answer = exchange(
        gw.addr(),
        b"PUT /metrics/job/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(413), "{answer}");
    assert!(!answer.contains("100 Continue"));
    // Chunked: exactly the limit is accepted, one byte more is 413.
    let chunked = |data: &str| {
        format!(
            "PUT /metrics/job/ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{data}\r\n0\r\n\r\n",
            data.len()
        )
    };
    let exact = "chunk 123\n"; // 10 bytes
    let answer = exchange(gw.addr(), chunked(exact).as_bytes(), Duration::from_secs(5));
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    let answer = exchange(
        gw.addr(),
        chunked("chunk 1234\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(413), "{answer}");
    let lines = stored(&gw);
    assert!(lines.iter().any(|l| l.starts_with("chunk{")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("e{")), "{lines:?}");
    assert!(lines.len() > before.len());
}

#[test]
fn pipelining_head_http10_and_absolute_form() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    // Three pipelined requests answered in order on one connection.
    let answer = exchange(
        gw.addr(),
        b"PUT /metrics/job/p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\np 1\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(statuses(&answer), vec![200, 404, 200], "{answer}");
    // HEAD: the GET Content-Length, no body.
    let get = gw.get("/-/healthy");
    let answer = exchange(
        gw.addr(),
        b"HEAD /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let want = format!("Content-Length: {}\r\n", get.body.len());
    assert!(answer.contains(&want), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\n"),
        "HEAD answer has a body: {answer:?}"
    );
    // HTTP/1.0: closed after the answer unless keep-alive is asked for.
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        .expect("send");
    let (answer, closed) = read_until_close(&mut conn, Duration::from_secs(5));
    assert!(closed && status_of(&answer) == Some(200), "{answer}");
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(b"GET /-/healthy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .expect("send");
    let first = read_one_response(&conn).expect("first");
    assert_eq!(first.header("Connection"), Some("keep-alive"));
    conn.write_all(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        .expect("send");
    let (answer, closed) = read_until_close(&mut conn, Duration::from_secs(5));
    assert!(closed && status_of(&answer) == Some(200), "{answer}");
    // Absolute form: the path comes from the URL.
    let answer = exchange(
        gw.addr(),
        b"PUT http://example.com:9091/metrics/job/abs HTTP/1.1\r\nHost: example.com\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabs 1\n",
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    assert!(stored(&gw).iter().any(|l| l.contains("job=\"abs\"")));
}

// Acceptance: 2,000 connections trickling header bytes and 32 trickling
// bodies, while fresh pushes and scrapes answer within 1 s.
#[test]
fn two_thousand_trickling_heads_and_slow_bodies_leave_service_responsive() {
    if upstream() {
        return;
    }
    let limit = raise_own_fd_limit();
    // Room for the gateway's own checks and the test harness.
    let heads = 2000.min(usize::try_from(limit).unwrap_or(1024).saturating_sub(200));
    let gw = Gateway::start(&[]);
    let before = push_victim(&gw);
    let mut tricklers = Vec::with_capacity(heads);
    for _ in 0..heads {
        match TcpStream::connect(gw.addr()) {
            Ok(mut c) => {
                let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
                tricklers.push(c);
            }
            Err(e) => panic!("connect #{}: {e}", tricklers.len()),
        }
    }
    let mut bodies = Vec::new();
    for i in 0..32 {
        let mut c = TcpStream::connect(gw.addr()).expect("connect");
        c.write_all(
            format!("PUT /metrics/job/slow{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                .as_bytes(),
        )
        .expect("head");
        bodies.push(c);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let trickle = {
        let (stop, written) = (stop.clone(), written.clone());
        thread::spawn(move || {
            // One byte per connection per round, for at most 20 s.
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                for c in tricklers.iter_mut() {
                    if c.write_all(b"X").is_ok() {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                for c in bodies.iter_mut() {
                    let _ = c.write_all(b" ");
                }
                thread::sleep(Duration::from_millis(200));
            }
            (tricklers, bodies)
        })
    };
    thread::sleep(Duration::from_millis(500));
    for round in 0..5 {
        fresh_push_and_scrape_within_a_second(&gw, &format!("fresh{round}"));
        thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let (tricklers, bodies) = trickle.join().expect("trickler");
    assert!(
        written.load(Ordering::Relaxed) >= heads,
        "the tricklers did not trickle"
    );
    drop(tricklers);
    drop(bodies);
    assert_eq!(gw.get("/-/healthy").status, 200);
    let now = stored(&gw);
    assert!(!now.iter().any(|l| l.contains("slow")));
    assert!(now.len() > before.len());
}

#[test]
fn connection_cap_evicts_the_oldest_unfinished_head() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.max-connections=20"]);
    let mut idle = Vec::new();
    for _ in 0..40 {
        let mut c = TcpStream::connect(gw.addr()).expect("connect");
        let _ = c.write_all(b"GET /metrics HTTP/1.1\r\n");
        idle.push(c);
    }
    thread::sleep(Duration::from_millis(300));
    fresh_push_and_scrape_within_a_second(&gw, "capped");
    // The oldest ones were closed.
    let (_, closed) = read_until_close(&mut idle[0], Duration::from_secs(3));
    assert!(closed, "the oldest unfinished head was not evicted");
    assert!(refusals(&gw, "connection_limit") >= 20.0);
}

#[test]
fn head_timeout_closes_trickling_heads() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.read-header-timeout=1s", "--web.read-timeout=1s"]);
    let mut head = TcpStream::connect(gw.addr()).expect("connect");
    head.write_all(b"GET /metrics HTTP/1.1\r\n")
        .expect("partial head");
    let mut body = TcpStream::connect(gw.addr()).expect("connect");
    body.write_all(format!("{PUSH_HEAD}Content-Length: 10\r\n\r\nx").as_bytes())
        .expect("partial body");
    let started = Instant::now();
    // Trickle a byte every 200 ms: the head deadline is for the whole head.
    for _ in 0..10 {
        let _ = head.write_all(b"X");
        thread::sleep(Duration::from_millis(200));
    }
    let (_, closed) = read_until_close(&mut head, Duration::from_secs(5));
    assert!(closed, "trickling head not closed");
    let (answer, closed) = read_until_close(&mut body, Duration::from_secs(5));
    assert!(closed && answer.is_empty(), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(refusals(&gw, "head_timeout") >= 1.0);
    assert!(refusals(&gw, "body_timeout") >= 1.0);
}

// Admission on the head and handling of the body are one request: the
// rate limit is charged once, not twice.
#[test]
fn rate_limit_is_charged_once_per_request_with_a_body() {
    if upstream() {
        return;
    }
    let config = AuthFile::with_text("rl", "rate_limit:\n  interval: 1h\n  burst: 3\n");
    let gw = Gateway::start(&[&config.flag()]);
    for i in 0..3 {
        let resp = gw.put(&format!("/metrics/job/rl{i}"), b"rl 1\n");
        assert_eq!(resp.status, 200, "push {i}: {}", resp.text());
    }
    assert_eq!(gw.put("/metrics/job/rl3", b"rl 1\n").status, 429);
}

// Thousands of pipelined requests the I/O thread answers itself (bad URL
// escapes) in one read: answered in order, without deep recursion.
#[test]
fn thousands_of_pipelined_bad_requests_are_answered() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    let one = b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut all = one.repeat(5000);
    all.extend_from_slice(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let writer = {
        let mut conn = conn.try_clone().expect("clone");
        thread::spawn(move || conn.write_all(&all))
    };
    let (answer, closed) = read_until_close(&mut conn, Duration::from_secs(20));
    writer.join().expect("writer").expect("write");
    let got = statuses(&answer);
    assert!(closed, "not closed after the last request");
    assert_eq!(got.len(), 5001);
    assert!(got[..5000].iter().all(|&s| s == 400));
    assert_eq!(got[5000], 200);
    assert_eq!(gw.get("/-/healthy").status, 200);
}

// A client that never reads its response is closed at the write deadline.
#[test]
fn slow_reader_is_closed_at_the_write_timeout() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.write-timeout=1s"]);
    // About 16 MiB of exposition: far more than the socket buffers hold.
    let value = "v".repeat(60_000);
    let body: String = (0..280)
        .map(|i| format!("big{{l=\"{value}{i}\"}} 1\n"))
        .collect();
    assert_eq!(gw.put("/metrics/job/big", body.as_bytes()).status, 200);
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    thread::sleep(Duration::from_secs(3));
    // Draining now finds the response cut short and the connection closed.
    let (answer, closed) = read_until_close(&mut conn, Duration::from_secs(10));
    assert!(closed, "not closed");
    assert!(answer.len() < body.len(), "the whole response arrived");
    assert!(refusals(&gw, "write_timeout") >= 1.0);
    assert_eq!(gw.get("/-/healthy").status, 200);
}

// After a response, a keep-alive connection is idle and closed after
// --web.idle-timeout; a request inside that time resets it.
#[test]
fn keep_alive_connection_is_closed_after_the_idle_timeout() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.idle-timeout=1s"]);
    let mut conn = TcpStream::connect(gw.addr()).expect("connect");
    for _ in 0..3 {
        conn.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        assert_eq!(read_one_response(&conn).expect("answer").status, 200);
        thread::sleep(Duration::from_millis(600));
    }
    let (_, closed) = read_until_close(&mut conn, Duration::from_secs(5));
    assert!(closed);
    assert!(refusals(&gw, "idle_timeout") >= 1.0);
}

//! Test harness: starts a gateway process and speaks HTTP/1.1 to it.
//!
//! Owns process start/stop (pushgate, or upstream Pushgateway when
//! `PUSHGATE_TEST_UPSTREAM=1`), a tiny blocking HTTP client on `TcpStream`,
//! scrape/API helpers that normalise volatile values, byte helpers (hex,
//! gzip, a protobuf wire walker), a bounded poll, a temporary directory, and
//! the visible skip of pushgate-only tests against upstream. It asserts nothing about behaviour itself.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a gateway may take to announce its listener.
const START_DEADLINE: Duration = Duration::from_secs(5);
/// How long a write answered 202 may take to become visible.
const SETTLE_DEADLINE: Duration = Duration::from_secs(2);
/// Read timeout for every HTTP response.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const PLAIN_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
pub const PROTO_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// §16 #8: upstream prints 0 for the counts of float histograms in text; pushgate
/// prints the float counts. Pairs of (upstream line, pushgate line).
/// Shared by the fixture round trip and the persistence import test.
pub const FLOAT_HISTOGRAM_COUNTS: &[(&str, &str)] = &[
    (
        r#"histogram_metric_bucket{instance="v1",job="fixture",le="+Inf"} 0"#,
        r#"histogram_metric_bucket{instance="v1",job="fixture",le="+Inf"} 20"#,
    ),
    (
        r#"histogram_metric_count{instance="v1",job="fixture"} 0"#,
        r#"histogram_metric_count{instance="v1",job="fixture"} 20"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="250000"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="250000"} 3"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="500000"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="500000"} 17"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="+Inf"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="+Inf"} 20"#,
    ),
    (
        r#"mfh_count{instance="v2",job="fixture",testing="float classic histogram"} 0"#,
        r#"mfh_count{instance="v2",job="fixture",testing="float classic histogram"} 20"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float native histogram",le="+Inf"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float native histogram",le="+Inf"} 20"#,
    ),
    (
        r#"mfh_count{instance="v2",job="fixture",testing="float native histogram"} 0"#,
        r#"mfh_count{instance="v2",job="fixture",testing="float native histogram"} 20"#,
    ),
];

/// The Content-Type of a scrape in `base` format with the default name
/// escaping: upstream 1.8+ and pushgate append `; escaping=underscores`
/// (issue 17); the 1.5.1 used for `PUSHGATE_TEST_UPSTREAM=1` predates it.
pub fn scrape_content_type(base: &str) -> String {
    if upstream() {
        base.to_string()
    } else {
        format!("{base}; escaping=underscores")
    }
}

/// Returns true if and only if the suite runs against upstream Pushgateway
/// (`PUSHGATE_TEST_UPSTREAM=1`) to prove the expectations themselves.
pub fn upstream() -> bool {
    std::env::var("PUSHGATE_TEST_UPSTREAM").is_ok_and(|v| v == "1")
}

/// Skips the calling test when the suite runs against upstream and the test
/// checks pushgate-only behaviour: prints `skipped: <test> (<reason>)` to
/// stderr (uncaptured, so it shows in every run) and counts it; the count is
/// printed as `skipped: N tests ...` when the test binary exits. Returns true
/// when the caller must return. libtest has no "skipped" outcome, so such a
/// test still shows as passed; the line and the count make it visible.
pub fn skip_on_upstream(reason: &str) -> bool {
    if !upstream() {
        return false;
    }
    static SUMMARY: std::sync::Once = std::sync::Once::new();
    SUMMARY.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function without arguments.
        unsafe { libc::atexit(print_skip_summary) };
    });
    SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let thread = thread::current();
    let name = thread.name().unwrap_or("?");
    // Straight to the stream: libtest captures only print!/eprint! output.
    let _ = writeln!(std::io::stderr(), "skipped: {name} ({reason})");
    true
}

static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn print_skip_summary() {
    let n = SKIPPED.load(std::sync::atomic::Ordering::Relaxed);
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {n} tests of pushgate-only behaviour against upstream (listed above as \"skipped: <test>\")"
    );
}

/// Calls `attempt` every `interval` until `done` accepts its result or
/// `limit` has passed, and returns the last result; the caller asserts on it.
pub fn poll_until<T>(
    limit: Duration,
    interval: Duration,
    mut attempt: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let result = attempt();
        if done(&result) || Instant::now() >= deadline {
            return result;
        }
        thread::sleep(interval);
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `name` tells concurrent tests' directories apart in a listing.
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pushgate-bb-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        TempDir(dir)
    }

    /// The persistence file tests use: `<dir>/pg.db`.
    pub fn file(&self) -> PathBuf {
        self.0.join("pg.db")
    }

    /// `--persistence.file=<dir>/pg.db`.
    pub fn flag(&self) -> String {
        format!("--persistence.file={}", self.file().display())
    }

    /// The names in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("list test dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running gateway process, killed and reaped on drop.
pub struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    /// Starts a gateway with `flags` on a loopback port and waits until it
    /// listens (at most 5 s).
    pub fn start(flags: &[&str]) -> Gateway {
        if upstream() {
            start_upstream(flags)
        } else {
            start_pushgate(flags)
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits in i32")
    }

    /// Waits at most `limit` for the process to exit on its own.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends one request with `Connection: close` and reads the response.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        send_request(self.addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], b"")
    }

    pub fn put(&self, path: &str, body: &[u8]) -> Resp {
        self.request("PUT", path, &[], body)
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Resp {
        self.request("POST", path, &[], body)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, &[], b"")
    }

    /// The text exposition without own families, push times unchanged.
    pub fn scrape_raw_lines(&self) -> Vec<String> {
        let resp = self.get("/metrics");
        assert_eq!(resp.status, 200, "scrape failed: {}", resp.text());
        without_own_families(&resp.text())
    }

    /// The text exposition without own families, with non-zero push-time
    /// gauge values replaced by `<t>` so that cases compare exactly.
    pub fn scrape_lines(&self) -> Vec<String> {
        normalise_push_times(&self.scrape_raw_lines())
    }

    /// Polls [`Gateway::scrape_lines`] until it equals `expected` (at most
    /// 2 s), for writes answered 202 whose visibility may lag (§5.8).
    #[track_caller]
    pub fn wait_for_lines(&self, expected: &[String]) {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let actual = self.scrape_lines();
            if actual == expected || Instant::now() >= deadline {
                assert_lines(&actual, expected);
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls [`Gateway::api_metrics`] until it equals `expected` (at most 2 s).
    #[track_caller]
    pub fn wait_for_api(&self, expected: &str) {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let actual = self.api_metrics();
            if actual == expected || Instant::now() >= deadline {
                assert_eq!(actual, expected);
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The raw body of `GET /api/v1/metrics` (asserted 200).
    pub fn api_metrics(&self) -> String {
        let resp = self.get("/api/v1/metrics");
        assert_eq!(resp.status, 200, "api/v1/metrics: {}", resp.text());
        resp.text()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_pushgate(flags: &[&str]) -> Gateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushgate"));
    command.arg("--web.listen-address=127.0.0.1:0").args(flags);
    Gateway::spawn(command)
}

impl Gateway {
    /// Spawns a prepared command that runs pushgate (directly or through a
    /// wrapper) and waits at most 5 s for its `Listening on` log line.
    pub fn spawn(mut command: Command) -> Gateway {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushgate");
        wait_until_listening(child)
    }
}

fn wait_until_listening(mut child: Child) -> Gateway {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    forward_stderr(stderr, "pushgate", Some(tx));
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = listening_address(&line) {
                    return Gateway { child, addr };
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pushgate did not log `msg=\"Listening on\" address=...` within 5 s");
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("pushgate closed stderr before logging `Listening on`: {status:?}");
            }
        }
    }
}

/// Extracts `address=HOST:PORT` from a logfmt `msg="Listening on"` line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("msg=\"Listening on\"") {
        return None;
    }
    let rest = line.split("address=").nth(1)?;
    let value = rest.split_whitespace().next()?.trim_matches('"');
    value.parse().ok()
}

/// Copies the child's stderr to the test's stderr with a prefix; the first
/// lines also go to `first_lines` while someone listens.
fn forward_stderr(
    stderr: ChildStderr,
    prefix: &'static str,
    first_lines: Option<mpsc::Sender<String>>,
) {
    thread::spawn(move || {
        let mut first_lines = first_lines;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[{prefix}] {line}");
            if let Some(tx) = &first_lines {
                if tx.send(line).is_err() {
                    first_lines = None;
                }
            }
        }
    });
}

/// Upstream needs a fixed port: choosing one then passing it on is racy, which
/// is acceptable only in this comparison mode.
fn start_upstream(flags: &[&str]) -> Gateway {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Debian's package defaults to a persistence file; keep upstream in
    // memory unless the test names one (kingpin refuses a repeated flag).
    let own_file = flags.iter().any(|f| f.starts_with("--persistence.file"));
    let mut child = Command::new("prometheus-pushgateway")
        .args((!own_file).then_some("--persistence.file="))
        .arg(format!("--web.listen-address={addr}"))
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prometheus-pushgateway");
    let stderr = child.stderr.take().expect("stderr is piped");
    forward_stderr(stderr, "upstream", None);
    let deadline = Instant::now() + START_DEADLINE;
    // Any HTTP answer means it listens (with a route prefix /-/healthy 404s).
    while send_request(addr, "GET", "/-/healthy", &[], b"").is_err() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("upstream did not answer on {addr} within 5 s");
        }
        thread::sleep(Duration::from_millis(20));
    }
    Gateway { child, addr }
}

/// Runs the pushgate binary (or upstream) with `args` to completion, at most
/// `limit`, and returns its exit status and stderr.
pub fn run_to_exit(args: &[&str], limit: Duration) -> (ExitStatus, String) {
    let program = if upstream() {
        "prometheus-pushgateway"
    } else {
        env!("CARGO_BIN_EXE_pushgate")
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gateway");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait on child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status, reader.join().unwrap_or_default())
}

/// One HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Like [`Gateway::request`], but returns connection errors instead of
/// panicking (for tests that expect the gateway to refuse or lag).
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<Resp> {
    send_request(addr, method, path, &[], body)
}

/// Reads one response from an open connection (keep-alive tests).
pub fn read_one_response(stream: &TcpStream) -> std::io::Result<Resp> {
    read_response(BufReader::new(stream), false)
}

fn send_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    // curl sends a length for PUT/POST even when the body is empty.
    if !body.is_empty() || method == "PUT" || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    read_response(BufReader::new(stream), method == "HEAD")
}

fn read_response(mut reader: impl BufRead, head_only: bool) -> std::io::Result<Resp> {
    let status_line = read_crlf_line(&mut reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_crlf_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        // With `Connection: close` anything up to EOF would be a stray body.
        reader.read_to_end(&mut resp.body)?;
        return Ok(resp);
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        resp.body = read_chunked(&mut reader)?;
    } else if let Some(len) = resp.header("Content-Length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        resp.body = vec![0; len];
        reader.read_exact(&mut resp.body)?;
    } else {
        reader.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    for _ in 0..1_000_000 {
        let size_line = read_crlf_line(reader)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers end with an empty line.
            while !read_crlf_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_crlf_line(reader)?;
    }
    Err(invalid("too many chunks".to_string()))
}

fn read_crlf_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the response ended",
        ));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// The lines of a text exposition without own families.
pub fn without_own_families(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !is_own_family_line(line))
        .map(str::to_string)
        .collect()
}

/// True for HELP/TYPE/sample lines of `process_*`, `pushgate_*` and `pushgateway_*`
/// families (and upstream's `go_*`, which pushgate does not have).
fn is_own_family_line(line: &str) -> bool {
    let name = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    let own = name.starts_with("process_")
        || name.starts_with("pushgate_")
        || name.starts_with("pushgateway_");
    own || (upstream() && name.starts_with("go_"))
}

/// Replaces non-zero values of the push-time gauges with `<t>`.
pub fn normalise_push_times(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let is_gauge = line.starts_with("push_time_seconds")
                || line.starts_with("push_failure_time_seconds");
            match line.rsplit_once(' ') {
                Some((series, value)) if is_gauge && value != "0" => {
                    assert!(
                        value.parse::<f64>().is_ok_and(|v| v > 1e9),
                        "push time is not a recent Unix time: {line}"
                    );
                    format!("{series} <t>")
                }
                _ => line.clone(),
            }
        })
        .collect()
}

/// The value of the sample line that starts with `series ` (raw lines).
pub fn sample_value(lines: &[String], series: &str) -> String {
    let prefix = format!("{series} ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no sample {series} in\n```\n{}\n```", lines.join("\n")))
        .to_string()
}

/// The six lines of the two managed gauges for the given groups, each given
/// as `(labels, failure value, push value)` in grouping-key order.
pub fn gauges(groups: &[(&str, &str, &str)]) -> Vec<String> {
    let mut lines = vec![
        "# HELP push_failure_time_seconds Last Unix time when changing this group in the Pushgateway failed.".to_string(),
        "# TYPE push_failure_time_seconds gauge".to_string(),
    ];
    for (labels, failure, _) in groups {
        lines.push(format!("push_failure_time_seconds{labels} {failure}"));
    }
    lines.push("# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded.".to_string());
    lines.push("# TYPE push_time_seconds gauge".to_string());
    for (labels, _, push) in groups {
        lines.push(format!("push_time_seconds{labels} {push}"));
    }
    lines
}

/// Concatenates blocks of expected lines.
pub fn lines(blocks: &[&[&str]]) -> Vec<String> {
    blocks
        .iter()
        .flat_map(|b| b.iter().map(|s| s.to_string()))
        .collect()
}

/// Asserts two line lists are equal, printing both in full when not.
#[track_caller]
pub fn assert_lines(actual: &[String], expected: &[String]) {
    assert!(
        actual == expected,
        "lines differ\n--- actual ---\n```\n{}\n```\n--- expected ---\n```\n{}\n```",
        actual.join("\n"),
        expected.join("\n")
    );
}

/// Asserts a plain-text response: status, body `<message>\n`, Content-Type
/// `text/plain; charset=utf-8`.
#[track_caller]
pub fn assert_text_error(resp: &Resp, status: u16, message: &str) {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    assert_eq!(resp.text(), format!("{message}\n"));
    assert_eq!(resp.header("Content-Type"), Some(PLAIN_CONTENT_TYPE));
}

/// Asserts the status and an empty body.
#[track_caller]
pub fn assert_empty(resp: &Resp, status: u16) {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    assert_eq!(resp.text(), "");
}

/// Decodes hex as `xxd -r -p` does (whitespace ignored).
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("hex is ASCII");
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("bad hex {pair:?}"))
        })
        .collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// One protobuf wire field: its number and raw value.
#[derive(Clone, Debug, PartialEq)]
pub enum PbValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Splits one protobuf message into its fields, in wire order.
pub fn pb_fields(mut data: &[u8]) -> Vec<(u32, PbValue<'_>)> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let key = pb_varint(&mut data);
        let number = u32::try_from(key >> 3).expect("field number fits u32");
        let value = match key & 7 {
            0 => PbValue::Varint(pb_varint(&mut data)),
            1 => {
                let (v, rest) = data.split_at(8);
                data = rest;
                PbValue::Fixed64(u64::from_le_bytes(v.try_into().expect("8 bytes")))
            }
            2 => {
                let len = usize::try_from(pb_varint(&mut data)).expect("length fits usize");
                let (v, rest) = data.split_at(len);
                data = rest;
                PbValue::Bytes(v)
            }
            5 => {
                let (v, rest) = data.split_at(4);
                data = rest;
                PbValue::Fixed32(u32::from_le_bytes(v.try_into().expect("4 bytes")))
            }
            other => panic!("unsupported wire type {other}"),
        };
        fields.push((number, value));
    }
    fields
}

pub fn pb_varint(data: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = data.split_first().expect("truncated varint");
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint longer than 10 bytes")
}

/// Splits a varint-delimited stream into its messages.
pub fn pb_delimited(mut data: &[u8]) -> Vec<&[u8]> {
    let mut messages = Vec::new();
    while !data.is_empty() {
        let len = usize::try_from(pb_varint(&mut data)).expect("length fits usize");
        let (message, rest) = data.split_at(len);
        messages.push(message);
        data = rest;
    }
    messages
}

/// The values of repeated double field `number`, packed or not.
pub fn pb_doubles(fields: &[(u32, PbValue<'_>)], number: u32) -> Vec<f64> {
    let mut values = Vec::new();
    for (n, value) in fields {
        match value {
            _ if *n != number => {}
            PbValue::Fixed64(bits) => values.push(f64::from_bits(*bits)),
            PbValue::Bytes(packed) => values.extend(
                packed
                    .chunks(8)
                    .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().expect("8 bytes")))),
            ),
            other => panic!("field {number} is not a double: {other:?}"),
        }
    }
    values
}

/// The sub-messages (or strings) of length-delimited field `number`.
pub fn pb_bytes<'a>(fields: &[(u32, PbValue<'a>)], number: u32) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter_map(|(n, v)| match v {
            PbValue::Bytes(b) if *n == number => Some(*b),
            _ => None,
        })
        .collect()
}

/// The last varint of field `number`, if present.
pub fn pb_uint(fields: &[(u32, PbValue<'_>)], number: u32) -> Option<u64> {
    fields.iter().rev().find_map(|(n, v)| match v {
        PbValue::Varint(x) if *n == number => Some(*x),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_address_is_read_from_logfmt_line() {
        let line = r#"ts=2026-01-02T03:04:05.678Z caller=main.rs:85 level=info msg="Listening on" address=127.0.0.1:40123"#;
        assert_eq!(
            listening_address(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        assert_eq!(listening_address(r#"msg="starting pushgate""#), None);
    }

    #[test]
    fn chunked_response_is_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let resp = read_response(&raw[..], false).expect("valid response");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"abcde");
    }

    #[test]
    fn content_length_bounds_the_body() {
        let raw = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nabcEXTRA";
        let resp = read_response(&raw[..], false).expect("valid response");
        assert_eq!(resp.header("Content-Length"), Some("3"));
        assert_eq!(resp.body, b"abc");
    }

    #[test]
    fn hex_ignores_whitespace() {
        assert_eq!(hex("ff 06\n0a"), vec![0xff, 0x06, 0x0a]);
    }

    #[test]
    fn push_times_are_normalised_but_zero_is_kept() {
        let raw = vec![
            r#"push_time_seconds{job="j"} 1.7952765111431224e+09"#.to_string(),
            r#"push_failure_time_seconds{job="j"} 0"#.to_string(),
            "m 1.7952765111431224e+09".to_string(),
        ];
        let expected = vec![
            r#"push_time_seconds{job="j"} <t>"#.to_string(),
            r#"push_failure_time_seconds{job="j"} 0"#.to_string(),
            "m 1.7952765111431224e+09".to_string(),
        ];
        assert_eq!(normalise_push_times(&raw), expected);
    }
}

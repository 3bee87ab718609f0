//! Migration from upstream Pushgateway (issue 17): persistence files written by
//! Debian's upstream 1.5.1 (tests/fixtures/upstream-persistence/, made by
//! scripts/test/capture-upstream-persistence.sh) are imported at start, the original is
//! kept, and the scrape equals upstream's own scrape of the same file after its
//! restart; plus the wire-compatibility cases of the issue.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::util::{self, Gateway, FLOAT_HISTOGRAM_COUNTS};

const RICH_GOB: &[u8] = include_bytes!("fixtures/upstream-persistence/rich.gob");
const RICH_SCRAPE: &str = include_str!("fixtures/upstream-persistence/rich.scrape.txt");
const EMPTY_GOB: &[u8] = include_bytes!("fixtures/upstream-persistence/empty.gob");

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pushgate-migrate-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("pushgateway.db")
    }

    fn flag(&self) -> String {
        format!("--persistence.file={}", self.file().display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Upstream's scrape without its own families, with pushgate's documented
/// float-histogram counts substituted.
fn upstream_lines() -> Vec<String> {
    util::without_own_families(RICH_SCRAPE)
        .into_iter()
        .filter(|l| {
            !l.starts_with("go_") && !l.starts_with("# HELP go_") && !l.starts_with("# TYPE go_")
        })
        .map(|l| {
            FLOAT_HISTOGRAM_COUNTS
                .iter()
                .find(|(up, _)| *up == l)
                .map_or(l.clone(), |(_, ours)| ours.to_string())
        })
        .collect()
}

#[test]
fn an_upstream_file_is_imported_and_scrapes_like_upstream() {
    if util::upstream() {
        return; // pushgate-only: upstream reads its own file, of course
    }
    let dir = TempDir::new("rich");
    fs::write(dir.file(), RICH_GOB).expect("write fixture");
    let gw = Gateway::start(&[&dir.flag()]);
    let scrape = gw.get("/metrics");
    assert_eq!(scrape.status, 200);
    let expected = upstream_lines();
    util::assert_lines(&util::without_own_families(&scrape.text()), &expected);
    // Every group came back: 8 groups, with their exact push and failure times.
    assert_eq!(
        expected
            .iter()
            .filter(|l| l.starts_with("push_time_seconds{"))
            .count(),
        8
    );
    // The original is kept byte for byte; the path now holds pushgate's format.
    let kept = dir.0.join("pushgateway.db.upstream");
    assert_eq!(fs::read(&kept).expect("original kept"), RICH_GOB);
    let converted = fs::read(dir.file()).expect("snapshot written");
    assert!(
        converted.starts_with(b"PGSTORE1"),
        "{:?}",
        &converted[..8.min(converted.len())]
    );
    drop(gw);
    // A restart reads pushgate's own snapshot and serves the same.
    let gw = Gateway::start(&[&dir.flag()]);
    util::assert_lines(
        &util::without_own_families(&gw.get("/metrics").text()),
        &expected,
    );
    assert_eq!(fs::read(&kept).expect("original still kept"), RICH_GOB);
}

#[test]
fn an_upstream_file_without_groups_imports_empty() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("empty");
    fs::write(dir.file(), EMPTY_GOB).expect("write fixture");
    let gw = Gateway::start(&[&dir.flag()]);
    let lines = util::without_own_families(&gw.get("/metrics").text());
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        fs::read(dir.0.join("pushgateway.db.upstream")).expect("kept"),
        EMPTY_GOB
    );
}

#[test]
fn a_damaged_upstream_file_is_moved_aside_not_imported_in_part() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("damaged");
    let half = &RICH_GOB[..RICH_GOB.len() / 2];
    fs::write(dir.file(), half).expect("write");
    let gw = Gateway::start(&[&dir.flag()]);
    let lines = util::without_own_families(&gw.get("/metrics").text());
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        fs::read(dir.0.join("pushgateway.db.corrupt")).expect("moved aside"),
        half
    );
}

#[test]
fn import_command_converts_and_reports() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("cli");
    let input = dir.0.join("upstream.db");
    fs::write(&input, RICH_GOB).expect("write");
    let output = dir.0.join("pushgate.db");
    let (status, stdout, stderr) =
        run_pushgate(&["import", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("8 groups"), "{stdout}");
    assert_eq!(fs::read(&input).expect("input kept"), RICH_GOB);
    assert!(fs::read(&output).expect("output").starts_with(b"PGSTORE1"));
    let gw = Gateway::start(&[&format!("--persistence.file={}", output.display())]);
    util::assert_lines(
        &util::without_own_families(&gw.get("/metrics").text()),
        &upstream_lines(),
    );
    drop(gw);
    // Never overwrites; a file that is not upstream's is refused with exit 1.
    let (status, _, stderr) =
        run_pushgate(&["import", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exists"), "{stderr}");
    let (status, _, stderr) = run_pushgate(&["import", output.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not an upstream Pushgateway persistence file"),
        "{stderr}"
    );
}

/// Runs the binary to completion (at most 10 s): status, stdout, stderr.
fn run_pushgate(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pushgate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pushgate");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{args:?} did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Wire compatibility (issue 17). The %2F push paths are case 10 in push_url.rs.

#[test]
fn a_forgotten_job_is_404_with_a_message() {
    let gw = Gateway::start(&[]);
    for (method, path) in [
        ("POST", "/metrics/"),
        ("PUT", "/metrics/job@base64/"),
        ("DELETE", "/metrics/"),
    ] {
        let resp = gw.request(method, path, &[], b"m 1\n");
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (404, "404 page not found\n"),
            "{method} {path}"
        );
    }
    // A GET still gets the trailing-slash redirect, a PUT on /metrics/job/ the 307 (§2.1).
    assert_eq!(gw.get("/metrics/").status, 301);
    assert_eq!(gw.put("/metrics/job/", b"").status, 307);
}

#[test]
fn one_error_per_suffix_collision() {
    let gw = Gateway::start(&[]);
    assert_eq!(
        gw.put("/metrics/job/a", b"# TYPE s summary\ns_sum 1\ns_count 1\n")
            .status,
        200
    );
    let resp = gw.put("/metrics/job/b", b"s_count 5\ns_sum 2\n");
    if util::upstream() {
        // Upstream reports one or two errors depending on Go map order.
        assert_eq!(resp.status, 400);
        return;
    }
    util::assert_text_error(
        &resp,
        400,
        r#"pushed metrics are invalid or inconsistent with existing metrics: collected histogram or summary named "s" collides with previously collected metric named "s_count""#,
    );
}

#[test]
fn an_inconsistent_scrape_is_worded_as_upstream() {
    let gw = Gateway::start(&["--push.disable-consistency-check"]);
    assert_eq!(
        gw.put("/metrics/job/a", b"# TYPE tc gauge\ntc 1\n").status,
        202
    );
    assert_eq!(
        gw.put("/metrics/job/b", b"# TYPE tc counter\ntc 1\n")
            .status,
        202
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let resp = loop {
        let resp = gw.get("/metrics");
        if resp.status == 500 || std::time::Instant::now() > deadline {
            break resp;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(resp.status, 500);
    let body = resp.text();
    assert!(
        body.starts_with(
            "An error has occurred while serving metrics:\n\ncollected metric \"tc\" { "
        ),
        "{body}"
    );
    if !util::upstream() {
        // Upstream reports either group (Go map order); pushgate the later one.
        assert!(
            body.ends_with("counter:{value:1} } is not a GAUGE\n"),
            "{body}"
        );
    }
}

#[test]
fn the_scrape_content_type_names_the_escaping_scheme() {
    if util::upstream() {
        return; // 1.5.1 predates escaping (1.8+)
    }
    let gw = Gateway::start(&["--push.enable-utf8-names"]);
    assert_eq!(
        gw.put("/metrics/job/j/U__my_2e_label/v", b"m 1\n").status,
        200
    );
    let text = util::TEXT_CONTENT_TYPE;
    let cases = [
        (
            "",
            "underscores",
            r#"m{instance="",job="j",my_label="v"} 1"#,
        ),
        (
            "text/plain;version=0.0.4;escaping=allow-utf-8",
            "allow-utf-8",
            r#"m{instance="",job="j","my.label"="v"} 1"#,
        ),
        (
            "text/plain;escaping=dots",
            "dots",
            r#"m{instance="",job="j",my_dot_label="v"} 1"#,
        ),
        (
            "text/plain;escaping=values",
            "values",
            r#"m{instance="",job="j",U__my_2e_label="v"} 1"#,
        ),
        (
            "text/plain;escaping=unknown",
            "underscores",
            r#"m{instance="",job="j",my_label="v"} 1"#,
        ),
    ];
    for (accept, scheme, line) in cases {
        let headers: Vec<(&str, &str)> = if accept.is_empty() {
            vec![]
        } else {
            vec![("Accept", accept)]
        };
        let resp = gw.request("GET", "/metrics", &headers, b"");
        assert_eq!(
            resp.header("Content-Type"),
            Some(format!("{text}; escaping={scheme}").as_str()),
            "Accept: {accept}"
        );
        assert!(
            resp.text().lines().any(|l| l == line),
            "Accept: {accept}\n{}",
            resp.text()
        );
    }
}

#[test]
fn push_size_counts_what_gos_server_sees() {
    let gw = Gateway::start(&[]);
    // A chunked PUT as `curl -X PUT -H 'Transfer-Encoding: chunked' --data-binary @-` sends it.
    let mut stream = std::net::TcpStream::connect(gw.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "PUT /metrics/job/sizecheck HTTP/1.1\r\nHost: {}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nm 1\n\r\n0\r\n\r\n",
        gw.addr()
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).expect("write");
    assert_eq!(
        util::read_one_response(&stream).expect("response").status,
        200
    );
    // 22 target + 3 method + 8 protocol + host value + 21 User-Agent + 9 Accept + 15
    // Connection; no Host or Transfer-Encoding name, no body (unknown length).
    let want = 22 + 3 + 8 + gw.addr().to_string().len() + 21 + 9 + 15;
    let lines: Vec<String> = gw
        .get("/metrics")
        .text()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        util::sample_value(
            &lines,
            r#"pushgateway_http_push_size_bytes_sum{method="put"}"#
        ),
        want.to_string()
    );
}

#[test]
fn upstream_and_debian_flags_are_accepted() {
    if util::upstream() {
        return; // 1.5.1 prints help and version to stderr (1.9+: stdout)
    }
    for args in [
        &["--help-long"][..],
        &["--help-man"],
        &["-h"],
        &[
            "--web.local-assets=/usr/share/prometheus/pushgateway",
            "--version",
        ],
    ] {
        let (status, stdout, stderr) = run_pushgate(args);
        assert!(status.success(), "{args:?}: {stderr}");
        assert!(
            !stdout.is_empty() && stderr.is_empty(),
            "{args:?}: stdout {stdout:?} stderr {stderr:?}"
        );
    }
    let (_, man, _) = run_pushgate(&["--help-man"]);
    assert!(man.starts_with(".TH pushgate 1"), "{man}");
    assert!(man.contains(r"\-\-web.local\-assets"), "{man}");
    // And a gateway runs with it.
    let gw = Gateway::start(&["--web.local-assets=/usr/share/prometheus/pushgateway"]);
    assert_eq!(gw.get("/-/healthy").status, 200);
}

#[test]
fn build_info_has_upstreams_labels() {
    let gw = Gateway::start(&[]);
    let lines: Vec<String> = gw
        .get("/metrics")
        .text()
        .lines()
        .map(str::to_string)
        .collect();
    let info = lines
        .iter()
        .find(|l| l.starts_with("pushgateway_build_info{"))
        .expect("pushgateway_build_info");
    for label in [
        "branch=",
        "goarch=",
        "goos=\"linux\"",
        "goversion=",
        "revision=",
        "version=",
    ] {
        assert!(info.contains(label), "{label} in {info}");
    }
    if !util::upstream() {
        assert!(info.contains("tags="), "{info}");
    }
}

/// A pushgate whose stderr goes to a file; killed and reaped on drop.
struct Logged {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    log: PathBuf,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts pushgate with stderr going to a file in `dir`; waits at most 5 s for
/// `Listening on`.
fn start_logging(dir: &TempDir, flags: &[&str]) -> Logged {
    let log = dir.0.join("pushgate.log");
    let file = fs::File::create(&log).expect("log file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pushgate"))
        .arg("--web.listen-address=127.0.0.1:0")
        .args(flags)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn");
    let mut logged = Logged {
        child,
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        log,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = fs::read_to_string(&logged.log).unwrap_or_default();
        let addr = text
            .lines()
            .filter(|l| l.contains("msg=\"Listening on\""))
            .find_map(|l| {
                l.split("address=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            });
        if let Some(addr) = addr {
            logged.addr = addr;
            return logged;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no Listening on line:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log lines containing `needle`, waiting at most 2 s for one.
fn log_lines(log: &PathBuf, needle: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let found: Vec<String> = fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect();
        if !found.is_empty() || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn log_fields_match_upstreams() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("logs");
    let gw = start_logging(&dir, &["--log.level=debug"]);
    let (addr, log) = (gw.addr, gw.log.clone());
    let send = |method: &str, path: &str, body: &[u8]| {
        util::try_request(addr, method, path, body)
            .expect("request")
            .status
    };
    assert_eq!(
        send("POST", "/metrics/job/a", b"# TYPE tx gauge\ntx 1\n"),
        200
    );
    assert_eq!(
        send("POST", "/metrics/job/b", b"# TYPE tx counter\ntx 1\n"),
        400
    );
    assert_eq!(send("POST", "/metrics/job/c", b"blah"), 400);
    assert_eq!(send("POST", "/metrics/job/c/odd", b"x 1\n"), 400);
    let rejected = log_lines(&log, "level=error msg=\"pushed metrics are invalid");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].contains(" method=POST source=127.0.0.1:"),
        "{}",
        rejected[0]
    );
    let parse = log_lines(&log, "msg=\"failed to parse text\"");
    assert!(
        parse.len() == 1 && parse[0].contains(" source=127.0.0.1:"),
        "{parse:?}"
    );
    let url = log_lines(&log, "msg=\"failed to parse URL\"");
    assert!(
        url.len() == 1 && url[0].contains(" url=/metrics/job/c/odd source=127.0.0.1:"),
        "{url:?}"
    );
}

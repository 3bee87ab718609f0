//! `--web.config.file`: basic auth on every endpoint class, pushgate's
//! separate write credentials, configured headers, rate limit, reloading,
//! and the refusals at start (invalid file, TLS settings that cannot be
//! served; TLS itself is tests/tls.rs).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;

use crate::util::{self, Gateway, Resp};

/// Longer than the 1 s between checks of the file, with room for a slow machine.
const RELOAD_DEADLINE: Duration = Duration::from_secs(5);

/// A web config file in its own temp directory, removed on drop.
struct WebConfigFile {
    dir: PathBuf,
    path: PathBuf,
}

impl WebConfigFile {
    fn new(text: &str) -> WebConfigFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pushgate-it-auth-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let path = dir.join("web.yml");
        std::fs::write(&path, text).expect("write web config");
        WebConfigFile { dir, path }
    }

    /// Replaces the file by rename, so the change shows whatever the
    /// timestamp resolution.
    fn replace(&self, text: &str) {
        let tmp = self.dir.join("web.yml.new");
        std::fs::write(&tmp, text).expect("write web config");
        std::fs::rename(&tmp, &self.path).expect("rename web config");
    }

    fn flag(&self) -> String {
        format!("--web.config.file={}", self.path.display())
    }
}

impl Drop for WebConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A bcrypt hash at the lowest cost, to keep the suite fast.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt at cost 4")
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// One request of each endpoint class and the status it gets when allowed.
const ENDPOINTS: &[(&str, &str, &[u8], u16)] = &[
    ("PUT", "/metrics/job/auth", b"some_metric 1\n", 200),
    ("POST", "/metrics/job/auth", b"some_metric 2\n", 200),
    ("DELETE", "/metrics/job/auth", b"", 202),
    ("GET", "/metrics", b"", 200),
    ("GET", "/api/v1/status", b"", 200),
    ("GET", "/api/v1/metrics", b"", 200),
    ("GET", "/", b"", 200),
    ("GET", "/static/functions.js", b"", 200),
    ("GET", "/-/healthy", b"", 200),
    ("GET", "/-/ready", b"", 200),
];

fn send(gw: &Gateway, method: &str, path: &str, body: &[u8], auth: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    gw.request(method, path, &headers, body)
}

#[track_caller]
fn assert_unauthorized(resp: &Resp, what: &str) {
    assert_eq!(resp.status, 401, "{what}: {}", resp.text());
    assert_eq!(resp.text(), "Unauthorized\n", "{what}");
    let challenge = resp.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic"),
        "{what}: WWW-Authenticate {challenge:?}"
    );
}

#[test]
fn every_endpoint_class_needs_valid_credentials() {
    let file = WebConfigFile::new(&format!("basic_auth_users:\n  alice: {}\n", hash("a-pass")));
    let gw = Gateway::start(&[&file.flag()]);
    let good = basic("alice", "a-pass");
    let rejected = [
        ("no credentials", None),
        ("wrong password", Some(basic("alice", "nope"))),
        ("unknown user", Some(basic("mallory", "a-pass"))),
        ("malformed header", Some("Basic %%%".to_string())),
    ];
    for (method, path, body, allowed) in ENDPOINTS {
        for (case, auth) in &rejected {
            let resp = send(&gw, method, path, body, auth.as_deref());
            assert_unauthorized(&resp, &format!("{method} {path} with {case}"));
        }
        let resp = send(&gw, method, path, body, Some(&good));
        assert_eq!(resp.status, *allowed, "{method} {path}: {}", resp.text());
    }
}

#[test]
fn rejected_push_leaves_the_store_unchanged() {
    let file = WebConfigFile::new(&format!("basic_auth_users:\n  alice: {}\n", hash("a-pass")));
    let gw = Gateway::start(&[&file.flag()]);
    let good = basic("alice", "a-pass");
    let resp = send(
        &gw,
        "PUT",
        "/metrics/job/x",
        b"m 1\n",
        Some(&basic("alice", "no")),
    );
    assert_unauthorized(&resp, "push with a wrong password");
    let scrape = send(&gw, "GET", "/metrics", b"", Some(&good));
    assert_eq!(scrape.status, 200);
    let lines = util::without_own_families(&scrape.text());
    assert!(lines.is_empty(), "store changed:\n{}", lines.join("\n"));
}

#[test]
fn admin_and_lifecycle_writes_need_credentials() {
    let file = WebConfigFile::new(&format!("basic_auth_users:\n  alice: {}\n", hash("a-pass")));
    let gw = Gateway::start(&[
        &file.flag(),
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
    ]);
    let resp = send(&gw, "PUT", "/api/v1/admin/wipe", b"", None);
    assert_unauthorized(&resp, "wipe");
    let resp = send(&gw, "PUT", "/-/quit", b"", None);
    assert_unauthorized(&resp, "quit");
    let resp = send(
        &gw,
        "PUT",
        "/api/v1/admin/wipe",
        b"",
        Some(&basic("alice", "a-pass")),
    );
    assert_eq!(resp.status, 202, "wipe: {}", resp.text());
}

#[test]
fn write_users_alone_may_write_and_everyone_listed_may_read() {
    if util::skip_on_upstream("pushgate only: pushgate_write_users") {
        return;
    }
    let file = WebConfigFile::new(&format!(
        "basic_auth_users:\n  reader: {}\npushgate_write_users:\n  writer: {}\n",
        hash("r-pass"),
        hash("w-pass")
    ));
    let gw = Gateway::start(&[&file.flag()]);
    let reader = basic("reader", "r-pass");
    let writer = basic("writer", "w-pass");
    for (method, path, body, allowed) in ENDPOINTS {
        let is_write = *method != "GET";
        let resp = send(&gw, method, path, body, Some(&reader));
        if is_write {
            assert_unauthorized(&resp, &format!("reader {method} {path}"));
        } else {
            assert_eq!(
                resp.status,
                *allowed,
                "reader {method} {path}: {}",
                resp.text()
            );
        }
        let resp = send(&gw, method, path, body, Some(&writer));
        assert_eq!(
            resp.status,
            *allowed,
            "writer {method} {path}: {}",
            resp.text()
        );
    }
}

#[test]
fn write_users_alone_leave_reads_open() {
    if util::skip_on_upstream("pushgate only: pushgate_write_users") {
        return;
    }
    let file = WebConfigFile::new(&format!(
        "pushgate_write_users:\n  writer: {}\n",
        hash("w-pass")
    ));
    let gw = Gateway::start(&[&file.flag()]);
    assert_eq!(gw.get("/metrics").status, 200);
    assert_unauthorized(&gw.put("/metrics/job/a", b"m 1\n"), "anonymous push");
    let resp = send(
        &gw,
        "PUT",
        "/metrics/job/a",
        b"m 1\n",
        Some(&basic("writer", "w-pass")),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[test]
fn configured_headers_are_on_every_response() {
    let file = WebConfigFile::new(&format!(
        "basic_auth_users:\n  alice: {}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n",
        hash("a-pass")
    ));
    let gw = Gateway::start(&[&file.flag()]);
    let good = basic("alice", "a-pass");
    let answers = [
        (
            "allowed scrape",
            send(&gw, "GET", "/metrics", b"", Some(&good)),
        ),
        (
            "allowed push",
            send(&gw, "PUT", "/metrics/job/h", b"m 1\n", Some(&good)),
        ),
        ("not found", send(&gw, "GET", "/nope", b"", Some(&good))),
        ("unauthorized", send(&gw, "GET", "/", b"", None)),
    ];
    for (what, resp) in answers {
        assert_eq!(resp.header("X-Frame-Options"), Some("deny"), "{what}");
        assert_eq!(
            resp.header("Strict-Transport-Security"),
            Some("max-age=31536000"),
            "{what}"
        );
    }
}

#[test]
fn no_headers_without_config() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/metrics");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("X-Frame-Options"), None);
}

#[test]
fn rate_limit_answers_429() {
    if util::skip_on_upstream(
        "the installed upstream 1.5.1 predates rate_limit (the spec's 1.11.3 has it)",
    ) {
        return;
    }
    let file = WebConfigFile::new("rate_limit:\n  interval: 1h\n  burst: 2\n");
    let gw = Gateway::start(&[&file.flag()]);
    assert_eq!(gw.get("/-/healthy").status, 200);
    assert_eq!(gw.get("/-/healthy").status, 200);
    let resp = gw.get("/-/healthy");
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(resp.text(), "Too Many Requests\n");
}

/// Polls `GET /-/healthy` with `auth` until it answers `status` (bounded).
#[track_caller]
fn wait_for_status(gw: &Gateway, auth: Option<&str>, status: u16) -> Resp {
    let resp = util::poll_until(
        RELOAD_DEADLINE,
        Duration::from_millis(100),
        || send(gw, "GET", "/-/healthy", b"", auth),
        |r| r.status == status,
    );
    assert_eq!(resp.status, status, "{}", resp.text());
    resp
}

#[test]
fn changed_file_is_picked_up_and_broken_file_gives_500() {
    let file = WebConfigFile::new(&format!("basic_auth_users:\n  alice: {}\n", hash("old")));
    let gw = Gateway::start(&[&file.flag()]);
    wait_for_status(&gw, Some(&basic("alice", "old")), 200);
    file.replace(&format!("basic_auth_users:\n  alice: {}\n", hash("new")));
    wait_for_status(&gw, Some(&basic("alice", "new")), 200);
    assert_unauthorized(
        &send(&gw, "GET", "/-/healthy", b"", Some(&basic("alice", "old"))),
        "old password after reload",
    );
    // Broken YAML: upstream, too, answers 500 (it would answer a malformed
    // hash with 401, pushgate with 500, as that hash is refused at start).
    file.replace("basic_auth_users: {alice: [\n");
    let resp = wait_for_status(&gw, Some(&basic("alice", "new")), 500);
    assert_eq!(resp.text(), "Internal Server Error\n");
    let resp = send(
        &gw,
        "PUT",
        "/metrics/job/x",
        b"m 1\n",
        Some(&basic("alice", "new")),
    );
    assert_eq!(resp.status, 500, "push while broken: {}", resp.text());
    file.replace(&format!("basic_auth_users:\n  alice: {}\n", hash("fixed")));
    wait_for_status(&gw, Some(&basic("alice", "fixed")), 200);
}

#[test]
fn invalid_file_is_refused_at_start() {
    if util::skip_on_upstream(
        "upstream starts and fails per request instead (exit code differs, §10)",
    ) {
        return;
    }
    let file = WebConfigFile::new("basic_auth_users:\n  alice: plaintext\n");
    let flag = file.flag();
    let (status, stderr) = util::run_to_exit(
        &["--web.listen-address=127.0.0.1:0", &flag],
        Duration::from_secs(5),
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("basic_auth_users.alice"), "{stderr}");
    assert!(!stderr.contains("Listening on"), "{stderr}");
}

#[test]
fn unknown_key_is_refused_at_start() {
    if util::skip_on_upstream("upstream 1.5.1 logs the error but exits 0 (§16 #11)") {
        return;
    }
    let file = WebConfigFile::new("basic_auth_user: {}\n");
    let flag = file.flag();
    let (status, stderr) = util::run_to_exit(
        &["--web.listen-address=127.0.0.1:0", &flag],
        Duration::from_secs(5),
    );
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("basic_auth_user"), "{stderr}");
}

#[test]
fn tls_server_config_with_missing_files_is_refused_at_start() {
    if util::skip_on_upstream("upstream checks certificate files on the first handshake") {
        return;
    }
    let file = WebConfigFile::new("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n");
    let flag = file.flag();
    let (status, stderr) = util::run_to_exit(
        &["--web.listen-address=127.0.0.1:0", &flag],
        Duration::from_secs(5),
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tls_server_config.cert_file"), "{stderr}");
    assert!(stderr.contains("a.crt"), "{stderr}");
    assert!(!stderr.contains("Listening on"), "{stderr}");
}

#[test]
fn missing_file_is_refused_at_start() {
    if util::skip_on_upstream("upstream exits 0 after the listener fails (§16 #11)") {
        return;
    }
    let (status, stderr) = util::run_to_exit(
        &[
            "--web.listen-address=127.0.0.1:0",
            "--web.config.file=/nonexistent/pushgate-web.yml",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/nonexistent/pushgate-web.yml"), "{stderr}");
}

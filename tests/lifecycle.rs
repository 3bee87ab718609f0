//! `/-/quit`, signals and exit codes (§10, §13; checklist case 49).

use std::time::Duration;

use crate::util::{self, Gateway, PLAIN_CONTENT_TYPE};

const EXIT_LIMIT: Duration = Duration::from_secs(5);

// Case 49: quit is refused without --web.enable-lifecycle.
#[test]
fn case_49_quit_without_lifecycle_is_403() {
    let gw = Gateway::start(&[]);
    for method in ["PUT", "POST"] {
        let resp = gw.request(method, "/-/quit", &[], b"");
        assert_eq!(resp.status, 403, "{method}");
        assert_eq!(
            resp.text(),
            "Lifecycle API is not enabled.",
            "{method}: no newline"
        );
        assert_eq!(resp.header("Content-Type"), Some(PLAIN_CONTENT_TYPE));
    }
    assert_eq!(gw.get("/-/healthy").status, 200, "still running");
}

// Case 49: GET on /-/quit.
#[test]
fn case_49_get_quit_is_405() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/-/quit");
    assert_eq!(resp.status, 405);
    assert_eq!(
        resp.text(),
        "Only POST or PUT requests allowed.",
        "no newline"
    );
    assert_eq!(resp.header("Content-Type"), Some(PLAIN_CONTENT_TYPE));
}

// Case 49: with --web.enable-lifecycle, POST quits and the process exits 0.
#[test]
fn case_49_quit_with_lifecycle_exits_0() {
    let mut gw = Gateway::start(&["--web.enable-lifecycle"]);
    let resp = gw.post("/-/quit", b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.text(),
        "Requesting termination... Goodbye!",
        "no newline"
    );
    let status = gw.wait_for_exit(EXIT_LIMIT).expect("exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status}");
}

// §10: SIGTERM shuts down gracefully with exit code 0.
#[test]
fn sigterm_exits_0() {
    let mut gw = Gateway::start(&[]);
    assert_eq!(gw.put("/metrics/job/t", b"m 1\n").status, 200);
    // SAFETY: kill(2) on our own child's pid has no memory-safety conditions.
    let rc = unsafe { libc::kill(gw.pid(), libc::SIGTERM) };
    assert_eq!(rc, 0, "kill(SIGTERM) failed");
    let status = gw.wait_for_exit(EXIT_LIMIT).expect("exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status}");
}

// §13: an unknown flag is a one-line error on stderr and a non-zero exit.
#[test]
fn unknown_flag_exits_2_with_one_line_message() {
    let (status, stderr) = util::run_to_exit(&["--no-such-flag"], EXIT_LIMIT);
    // pushgate's ConfigError exits 2 (config.rs); upstream's kingpin exits 1.
    let expected = if util::upstream() { 1 } else { 2 };
    assert_eq!(status.code(), Some(expected), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr:?}");
    assert!(
        stderr.contains("--no-such-flag"),
        "names the flag: {stderr:?}"
    );
}

// systemd socket activation: the listening socket arrives as descriptor 3
// with LISTEN_FDS=1 and LISTEN_PID set to pushgate's pid, as systemd does
// with pushgate.socket. `sh` sets LISTEN_PID=$$ and then execs pushgate, so
// the pid matches; the socket is bound here on 127.0.0.1:0 (no port race).
#[test]
fn systemd_socket_activation() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    if crate::util::skip_on_upstream("pushgate-specific start-up log and exit codes") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let fd = listener.as_raw_fd();
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" --web.systemd-socket",
        env!("CARGO_BIN_EXE_pushgate"),
    ]);
    // SAFETY: dup2 and fcntl are async-signal-safe; it puts the listener at descriptor 3
    // (without close-on-exec) in the child only.
    unsafe {
        command.pre_exec(move || {
            // dup2(3, 3) is a no-op that keeps close-on-exec: clear it then.
            let rc = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let gw = crate::util::Gateway::spawn(command);
    assert_eq!(gw.addr(), listener.local_addr().expect("bound address"));
    assert_eq!(gw.put("/metrics/job/activated", b"m 1\n").status, 200);
    let scrape = gw.get("/metrics").text();
    assert!(
        scrape.contains(r#"m{instance="",job="activated"} 1"#),
        "{scrape}"
    );
}

// Without sockets from systemd, --web.systemd-socket fails clearly with exit 1.
#[test]
fn systemd_socket_flag_without_sockets_exits_1() {
    if crate::util::skip_on_upstream("pushgate's exit code 1 (spec §10)") {
        return;
    }
    let (status, stderr) =
        crate::util::run_to_exit(&["--web.systemd-socket"], std::time::Duration::from_secs(5));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("LISTEN_PID"), "{stderr}");
}

//! `pushgate shards` against running pushgates (README, "Scaling out"):
//! listing, reconcile keeping the newest copy, fanned-out delete and wipe,
//! and clear errors that change nothing for bad URLs, unreachable shards
//! and shards without the admin API. The HAProxy topology is tested by
//! scripts/test/shards.py.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{upstream, Gateway};

/// Runs `pushgate shards ARGS` (at most 30 s); returns exit code, stdout, stderr.
fn shards(args: &[String]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushgate"))
        .arg("shards")
        .arg("--timeout=5s")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushgate shards");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pushgate shards {args:?} did not exit within 30 s");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

fn url(gw: &Gateway) -> String {
    format!("http://{}", gw.addr())
}

fn args(gws: &[&Gateway], rest: &[&str]) -> Vec<String> {
    gws.iter()
        .map(|g| format!("--shard={}", url(g)))
        .chain(rest.iter().map(|s| s.to_string()))
        .collect()
}

/// The grouping labels of every group on `gw`, from its push_time_seconds series.
fn groups(gw: &Gateway) -> Vec<String> {
    gw.scrape_raw_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("push_time_seconds"))
        .map(|l| {
            l.rsplit_once(' ')
                .map_or(l, |(labels, _)| labels)
                .to_string()
        })
        .collect()
}

fn push(gw: &Gateway, path: &str) {
    let resp = gw.put(path, b"m 1\n");
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
}

/// A group whose values need `@base64` in a path: a slash, an empty value, UTF-8.
const AWKWARD: &str = "/metrics/job@base64/YS9i/instance@base64/=/x@base64/w6k";
const AWKWARD_LABELS: &str = r#"{instance="",job="a/b",x="é"}"#;

#[test]
fn reconcile_keeps_the_newest_copy_and_deletes_the_others() {
    if upstream() {
        return;
    }
    let old = Gateway::start(&[]);
    let new = Gateway::start(&[]);
    push(&old, AWKWARD);
    push(&old, "/metrics/job/only-old");
    thread::sleep(Duration::from_millis(20));
    push(&new, AWKWARD);

    let (code, out, err) = shards(&args(&[&old, &new], &["ls"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches(AWKWARD_LABELS).count(), 2, "{out}");
    assert_eq!(out.matches("[on 2 shards]").count(), 2, "{out}");
    assert!(
        out.ends_with("2 groups, 3 copies on 2 shards; 1 groups on more than one shard (see `pushgate shards reconcile`)\n"),
        "{out}"
    );

    let (code, out, err) = shards(&args(&[&old, &new], &["reconcile"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{AWKWARD_LABELS}: keep {}", url(&new))),
        "{out}"
    );
    assert!(
        out.contains(&format!("  would delete on {}", url(&old))),
        "{out}"
    );
    assert_eq!(groups(&old).len(), 2, "a dry run changes nothing");

    let (code, out, err) = shards(&args(&[&old, &new], &["reconcile", "--apply"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 of 1 stale copies deleted"), "{out}");
    assert_eq!(groups(&old), vec![r#"{instance="",job="only-old"}"#]);
    assert_eq!(groups(&new), vec![AWKWARD_LABELS]);

    let (code, out, _) = shards(&args(&[&old, &new], &["reconcile", "--apply"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("no group is held by more than one shard (2 groups)"),
        "{out}"
    );
}

#[test]
fn delete_and_wipe_fan_out_to_every_shard() {
    if upstream() {
        return;
    }
    let a = Gateway::start(&["--web.enable-admin-api"]);
    let b = Gateway::start(&["--web.enable-admin-api"]);
    for gw in [&a, &b] {
        push(gw, "/metrics/job/batch/env/dev");
        push(gw, "/metrics/job/keep");
    }
    push(&b, "/metrics/job/batch/env/prod");

    let sel = r#"{job="batch",env="dev"}"#;
    let (code, out, err) = shards(&args(&[&a, &b], &["delete", sel]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dry run: 2 groups on 2 shards would be deleted"),
        "{out}"
    );
    assert_eq!(groups(&a).len(), 2);

    let (code, out, err) = shards(&args(&[&a, &b], &["delete", sel, "--apply"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{}: deleted 1 groups", url(&a))),
        "{out}"
    );
    assert!(out.contains("2 groups deleted on 2 shards"), "{out}");
    assert_eq!(groups(&a), vec![r#"{instance="",job="keep"}"#]);
    assert_eq!(groups(&b).len(), 2);

    let (code, out, err) = shards(&args(&[&a, &b], &["wipe", "--apply"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{}: wiped (2 groups)", url(&b))),
        "{out}"
    );
    assert!(groups(&a).is_empty() && groups(&b).is_empty());
}

#[test]
fn a_shard_without_the_admin_api_stops_delete_and_wipe_before_any_change() {
    if upstream() {
        return;
    }
    let admin = Gateway::start(&["--web.enable-admin-api"]);
    let plain = Gateway::start(&[]);
    push(&admin, "/metrics/job/j");
    for cmd in [
        &["wipe", "--apply"][..],
        &["delete", r#"{job="j"}"#, "--apply"],
    ] {
        let (code, out, err) = shards(&args(&[&admin, &plain], cmd));
        assert_eq!(code, 1, "{cmd:?}: {out}");
        assert!(
            err.contains(&format!("shard {}: the admin API is off", url(&plain))),
            "{err}"
        );
        assert!(err.ends_with("nothing was changed\n"), "{err}");
        assert_eq!(groups(&admin).len(), 1);
    }
}

#[test]
fn unreachable_shards_and_bad_urls_change_nothing() {
    if upstream() {
        return;
    }
    let gw = Gateway::start(&["--web.enable-admin-api"]);
    push(&gw, "/metrics/job/j");
    // A port that was just free: nothing listens there.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dead = format!("--shard=http://127.0.0.1:{closed}");
    for cmd in ["ls", "reconcile", "wipe"] {
        let mut line = args(&[&gw], &[dead.as_str(), cmd, "--apply"]);
        if cmd == "ls" {
            line.pop();
        }
        let (code, out, err) = shards(&line);
        assert_eq!(code, 1, "{cmd}: {out}");
        assert!(
            err.starts_with(&format!(
                "shard http://127.0.0.1:{closed}: unreachable: cannot connect"
            )),
            "{cmd}: {err}"
        );
        assert!(out.is_empty(), "{out}");
        assert_eq!(groups(&gw).len(), 1);
    }
    for (bad, why) in [
        ("https://127.0.0.1:9091", "only http:// URLs are supported"),
        ("http://127.0.0.1:notaport", "the port must be a number"),
        ("127.0.0.1:9091", "only http:// URLs are supported"),
    ] {
        let line = args(&[&gw], &[&format!("--shard={bad}"), "wipe", "--apply"]);
        let (code, _, err) = shards(&line);
        assert_eq!(code, 2, "{bad}");
        assert!(
            err.contains(&format!("bad shard URL {bad:?}: {why}")),
            "{err}"
        );
        assert_eq!(groups(&gw).len(), 1);
    }
    // The same process under two names would make reconcile delete its only copy.
    let alias = format!("--shard=http://localhost:{}", gw.addr().port());
    let (code, _, err) = shards(&args(&[&gw], &[&alias, "reconcile", "--apply"]));
    assert_eq!(code, 1);
    assert!(err.contains("is the same process as shard"), "{err}");
}

#[test]
fn help_lists_the_commands() {
    if upstream() {
        return;
    }
    let (code, out, _) = shards(&["--help".to_string()]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("usage: pushgate shards [flags] <command> [args]"),
        "{out}"
    );
    for word in [
        "ls",
        "reconcile",
        "delete <selector>...",
        "wipe",
        "--shard=URL",
        "--file-sd=FILE",
        "--apply",
    ] {
        assert!(out.contains(word), "{word} missing in {out}");
    }
    let (code, _, err) = shards(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("no command given"), "{err}");
}

//! Unit tests of `pushgate shards`: the command line, the reconcile plan
//! and the listing. Requests against running shards are in tests/shards.rs.

use super::*;
use crate::model::Label;

fn args(list: &[&str]) -> Result<Args, String> {
    parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn key(pairs: &[(&str, &str)]) -> GroupingKey {
    GroupingKey::new(pairs.iter().map(|(n, v)| Label::new(*n, *v)))
}

fn copy(pairs: &[(&str, &str)], push_time: f64, failure_time: f64) -> GroupCopy {
    GroupCopy {
        key: key(pairs),
        push_time,
        failure_time,
    }
}

#[test]
fn command_lines() {
    let a = args(&[
        "--shard=http://127.0.0.1:1",
        "--shard",
        "http://h:2/pg/",
        "ls",
    ])
    .unwrap();
    assert_eq!(a.command, Cmd::Ls);
    assert_eq!(a.shards.len(), 2);
    assert_eq!(a.shards[1].prefix, "/pg");
    assert!(!a.apply);
    assert_eq!(a.timeout, DEFAULT_TIMEOUT);
    let a = args(&["reconcile", "--apply", "--timeout=2s", "--shard=http://h:1"]).unwrap();
    assert_eq!(
        (a.command, a.apply, a.timeout),
        (Cmd::Reconcile, true, Duration::from_secs(2))
    );
    let a = args(&[
        "--shard=http://h:1",
        "delete",
        r#"{job="a"}"#,
        r#"job="b",x="y""#,
    ])
    .unwrap();
    assert_eq!(
        a.command,
        Cmd::Delete(vec![r#"{job="a"}"#.into(), r#"job="b",x="y""#.into()])
    );
    assert_eq!(args(&["--help"]).unwrap().command, Cmd::Help);
    assert_eq!(args(&["-h"]).unwrap().command, Cmd::Help);
}

#[test]
fn bad_command_lines_name_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&["ls"], "no shards given"),
        (&["--shard=http://h:1"], "no command given"),
        (
            &["--shard=http://h:1", "frobnicate"],
            "unknown command \"frobnicate\"",
        ),
        (
            &["--shard=http://h:1", "ls", "extra"],
            "ls takes no arguments",
        ),
        (
            &["--shard=http://h:1", "delete"],
            "delete needs at least one selector",
        ),
        (
            &["--shard=http://h:1", "delete", r#"{job=~"a"}"#],
            "only equality matchers",
        ),
        (
            &["--shard=http://h:1", "delete", r#"{job=""}"#],
            "non-empty value",
        ),
        (
            &["--shard=https://h:1", "ls"],
            "bad shard URL \"https://h:1\"",
        ),
        (&["--shard=h:1", "ls"], "only http:// URLs"),
        (&["--shard=http://h:99999", "ls"], "the port must be"),
        (
            &["--shard=http://h:1", "--shard=http://h:1/", "ls"],
            "given twice",
        ),
        (
            &["--shard=http://h:1", "--timeout=soon", "ls"],
            "bad --timeout",
        ),
        (
            &["--shard=http://h:1", "--timeout=0s", "ls"],
            "bad --timeout",
        ),
        (
            &["--shard=http://h:1", "--force", "ls"],
            "unknown flag \"--force\"",
        ),
        (&["--shard"], "--shard needs a value"),
        (&["--shard=http://h:1", "--apply=yes", "ls"], "unknown flag"),
        (
            &["--file-sd=/nonexistent/sd.json", "ls"],
            "cannot read /nonexistent/sd.json",
        ),
    ];
    for (line, want) in cases {
        let e = args(line).unwrap_err();
        assert!(e.contains(want), "{line:?}: {e:?} lacks {want:?}");
    }
}

#[test]
fn file_sd_targets_become_shards() {
    let dir = std::env::temp_dir().join(format!("pushgate-shards-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sd.json");
    std::fs::write(
        &file,
        r#"[{"targets":["127.0.0.1:9091","127.0.0.1:9092"]},
            {"targets":["127.0.0.1:9093"],"labels":{"__metrics_path__":"/pg/metrics","zone":"b"}}]"#,
    )
    .unwrap();
    let urls = file_sd_shards(file.to_str().unwrap()).unwrap();
    let shown: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
    assert_eq!(
        shown,
        [
            "http://127.0.0.1:9091",
            "http://127.0.0.1:9092",
            "http://127.0.0.1:9093/pg"
        ]
    );
    std::fs::write(
        &file,
        r#"[{"targets":["h:1"],"labels":{"__scheme__":"https"}}]"#,
    )
    .unwrap();
    assert!(file_sd_shards(file.to_str().unwrap())
        .unwrap_err()
        .contains("only http"));
    std::fs::write(&file, r#"{"targets":[]}"#).unwrap();
    assert!(file_sd_shards(file.to_str().unwrap())
        .unwrap_err()
        .contains("not a file_sd list"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reconcile_keeps_the_newest_copy() {
    let per_shard = vec![
        vec![
            copy(&[("job", "a")], 10.0, 0.0),
            copy(&[("job", "b")], 30.0, 0.0),
        ],
        vec![
            copy(&[("job", "a")], 20.0, 0.0),
            copy(&[("job", "c")], 5.0, 0.0),
        ],
        vec![
            copy(&[("job", "a")], 15.0, 0.0),
            copy(&[("job", "b")], 30.0, 1.0),
            copy(&[("job", "d")], 0.0, 0.0),
        ],
        vec![copy(&[("job", "d")], 0.0, 0.0)],
    ];
    let placed = placement(per_shard);
    let plan = plan_reconcile(&placed);
    let summary: Vec<(String, usize, Vec<usize>)> = plan
        .iter()
        .map(|(keep, others, k)| {
            let holders = &placed[&k.sort_key()];
            (
                k.to_string(),
                holders[*keep].0,
                others.iter().map(|&j| holders[j].0).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // Newest push wins.
            ("{job=\"a\"}".to_string(), 1, vec![0, 2]),
            // Same push time: the newer failure wins.
            ("{job=\"b\"}".to_string(), 2, vec![0]),
            // A full tie keeps the first shard listed.
            ("{job=\"d\"}".to_string(), 2, vec![3]),
        ]
    );
}

#[test]
fn listing_marks_groups_on_several_shards() {
    let shards: Vec<Shard> = ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        .iter()
        .map(|u| Shard {
            url: BaseUrl::parse(u).unwrap(),
            timeout: DEFAULT_TIMEOUT,
        })
        .collect();
    let placed = placement(vec![
        vec![copy(&[("job", "a")], 1_700_000_000.5, 0.0)],
        vec![
            copy(&[("job", "a")], 0.0, 3.0),
            copy(&[("job", "b"), ("x", "y")], 1.0, 0.0),
        ],
    ]);
    let mut out = String::new();
    ls(&shards, placed, &mut out);
    let want = "\
SHARD               LAST PUSH                 GROUP
http://127.0.0.1:1  2023-11-14T22:13:20.500Z  {job=\"a\"}  [on 2 shards]
http://127.0.0.1:2  never                     {job=\"a\"}  [on 2 shards]
http://127.0.0.1:2  1970-01-01T00:00:01.000Z  {job=\"b\",x=\"y\"}
2 groups, 3 copies on 2 shards; 1 groups on more than one shard (see `pushgate shards reconcile`)
";
    assert_eq!(out, want);
}

#[test]
fn an_unreachable_shard_stops_every_command_before_any_change() {
    // Port 1 on loopback: nothing listens there (connection refused).
    let shards = vec![Shard {
        url: BaseUrl::parse("http://127.0.0.1:1").unwrap(),
        timeout: Duration::from_secs(2),
    }];
    for cmd in [
        Cmd::Ls,
        Cmd::Reconcile,
        Cmd::Wipe,
        Cmd::Delete(vec![r#"{job="a"}"#.into()]),
    ] {
        let mut out = String::new();
        let e = execute(&cmd, &shards, true, &mut out).unwrap_err();
        assert!(
            e.contains("shard http://127.0.0.1:1: unreachable: cannot connect"),
            "{e}"
        );
        assert!(e.ends_with("nothing was changed\n"), "{e}");
        assert!(out.is_empty(), "{out}");
    }
}

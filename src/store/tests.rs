//! Unit tests of the store: pushes, TTL and budgets, consistency, restore.

use super::*;

fn key(pairs: &[(&str, &str)]) -> GroupingKey {
    GroupingKey::new(pairs.iter().map(|(n, v)| Label::new(*n, *v)))
}

fn family(name: &str, kind: MetricType, series: &[(&[(&str, &str)], f64)]) -> MetricFamily {
    let mut f = MetricFamily::new(name, kind);
    for (labels, v) in series {
        let value = match kind {
            MetricType::Gauge => Value::Gauge(*v),
            MetricType::Counter => Value::Counter(crate::model::Counter {
                value: *v,
                ..Default::default()
            }),
            _ => Value::Untyped(*v),
        };
        f.metrics.push(Metric {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            value,
            timestamp_ms: None,
        });
    }
    f
}

fn store() -> Store {
    Store::new(
        vec![ReservedFamily {
            name: "process_open_fds".into(),
            kind: MetricType::Gauge,
        }],
        CheckMode::Checked,
        NameValidation::Legacy,
    )
}

fn push(s: &Store, k: &GroupingKey, fams: Vec<MetricFamily>, put: bool, t: i64) -> PushOutcome {
    s.push(Push {
        key: k.clone(),
        families: fams,
        replace_group: put,
        received_at: t,
        ttl: None,
    })
}

fn names_of(s: &Store, k: &GroupingKey) -> Vec<String> {
    s.groups()
        .into_iter()
        .find(|g| &g.key == k)
        .map(|g| g.families.iter().map(|f| f.name().to_string()).collect())
        .unwrap_or_default()
}

fn rejected(o: PushOutcome) -> Vec<String> {
    match o {
        PushOutcome::Rejected(r) => r.problems,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn push_ttl(s: &Store, k: &GroupingKey, t: i64, ttl: Option<Duration>) -> PushOutcome {
    s.push(Push {
        key: k.clone(),
        families: vec![family("m", MetricType::Untyped, &[(&[], 1.0)])],
        replace_group: true,
        received_at: t,
        ttl,
    })
}

const SEC: i64 = 1_000_000_000;

#[test]
fn groups_expire_after_the_default_ttl_counted_from_the_last_success() {
    let s = store().with_policy(Policy {
        default_ttl: Some(Duration::from_secs(2)),
        ..Policy::default()
    });
    let k = key(&[("job", "ttl")]);
    push_ttl(&s, &k, 10 * SEC, None);
    assert!(s.expire(11 * SEC).is_empty());
    push_ttl(&s, &k, 11 * SEC, None);
    assert!(
        s.expire(12 * SEC).is_empty(),
        "the second push renewed the group"
    );
    assert_eq!(s.groups()[0].expires_at, Some(13 * SEC));
    assert_eq!(s.expire(13 * SEC), vec![k]);
    assert!(s.groups().is_empty());
    assert_eq!(s.usage(), (0, 0));
}

#[test]
fn failed_pushes_do_not_renew_the_ttl() {
    let s = store().with_policy(Policy {
        default_ttl: Some(Duration::from_secs(2)),
        ..Policy::default()
    });
    let k = key(&[("job", "ttl")]);
    push_ttl(&s, &k, 10 * SEC, None);
    let mut bad = family("b", MetricType::Untyped, &[(&[], 1.0)]);
    bad.metrics[0].timestamp_ms = Some(1);
    rejected(push(&s, &k, vec![bad], false, 11 * SEC));
    assert_eq!(s.expire(12 * SEC), vec![k]);
}

#[test]
fn per_group_ttl_overrides_and_can_be_cleared() {
    let s = store();
    let short = key(&[("job", "short")]);
    let forever = key(&[("job", "forever")]);
    push_ttl(&s, &short, 10 * SEC, Some(Duration::from_secs(1)));
    push_ttl(&s, &forever, 10 * SEC, None);
    push_ttl(&s, &short, 10 * SEC, None);
    assert_eq!(
        s.groups()[1].ttl,
        Some(Duration::from_secs(1)),
        "kept without the header"
    );
    assert_eq!(s.expire(11 * SEC), vec![short.clone()]);
    push_ttl(&s, &short, 20 * SEC, Some(Duration::from_secs(1)));
    push_ttl(&s, &short, 20 * SEC, Some(Duration::ZERO));
    assert!(s.expire(100 * SEC).is_empty());
    assert_eq!(s.groups().len(), 2);
}

#[test]
fn expiry_survives_restore() {
    let s = store();
    let k = key(&[("job", "r")]);
    push_ttl(&s, &k, 10 * SEC, Some(Duration::from_secs(5)));
    let t = store();
    t.restore(s.groups());
    assert!(t.expire(14 * SEC).is_empty());
    assert_eq!(t.expire(15 * SEC), vec![k]);
}

#[test]
fn series_budget_rejects_at_the_limit_and_accepts_after_deletes() {
    // Each group holds 1 series plus its 2 gauges.
    let s = store().with_policy(Policy {
        max_series: 6,
        ..Policy::default()
    });
    assert_eq!(
        push_ttl(&s, &key(&[("job", "a")]), 1, None),
        PushOutcome::Applied
    );
    assert_eq!(
        push_ttl(&s, &key(&[("job", "b")]), 1, None),
        PushOutcome::Applied
    );
    let over = push_ttl(&s, &key(&[("job", "c")]), 1, None);
    assert!(
        matches!(&over, PushOutcome::OverBudget(m) if m.contains("--push.max-series")),
        "{over:?}"
    );
    assert_eq!(s.usage(), (2, 6), "nothing changed");
    assert_eq!(
        push_ttl(&s, &key(&[("job", "a")]), 2, None),
        PushOutcome::Applied,
        "replacing stays within"
    );
    s.delete(&key(&[("job", "a")]));
    assert_eq!(
        push_ttl(&s, &key(&[("job", "c")]), 3, None),
        PushOutcome::Applied
    );
}

#[test]
fn group_budget_rejects_new_groups_only() {
    let s = store().with_policy(Policy {
        max_groups: 1,
        ..Policy::default()
    });
    assert_eq!(
        push_ttl(&s, &key(&[("job", "a")]), 1, None),
        PushOutcome::Applied
    );
    assert_eq!(
        push_ttl(&s, &key(&[("job", "a")]), 2, None),
        PushOutcome::Applied
    );
    let over = push_ttl(&s, &key(&[("job", "b")]), 3, None);
    assert!(
        matches!(&over, PushOutcome::OverBudget(m) if m.contains("--push.max-groups")),
        "{over:?}"
    );
    assert_eq!(s.groups().len(), 1);
}

#[test]
fn put_replaces_and_post_merges() {
    let s = store();
    let k = key(&[("job", "ps")]);
    let a = |v| family("a", MetricType::Untyped, &[(&[], v)]);
    let b = family("b", MetricType::Untyped, &[(&[], 1.0)]);
    let c = family("c", MetricType::Untyped, &[(&[], 3.0)]);
    assert_eq!(push(&s, &k, vec![a(1.0), b], true, 1), PushOutcome::Applied);
    assert_eq!(
        push(&s, &k, vec![a(2.0), c.clone()], false, 2),
        PushOutcome::Applied
    );
    assert_eq!(
        names_of(&s, &k),
        ["a", "b", "c", PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC]
    );
    assert_eq!(push(&s, &k, vec![c], true, 3), PushOutcome::Applied);
    assert_eq!(
        names_of(&s, &k),
        ["c", PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC]
    );
    assert_eq!(push(&s, &k, vec![], true, 4), PushOutcome::Applied);
    assert_eq!(
        names_of(&s, &k),
        [PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC]
    );
    assert_eq!(s.usage(), (1, 2));
}

#[test]
fn labels_are_sanitised() {
    let s = store();
    let k = key(&[("job", "job1"), ("instance", "instance2")]);
    let f = family(
        "mf1",
        MetricType::Untyped,
        &[(&[("job", "job2"), ("instance", "instance1")], 42.0)],
    );
    push(&s, &k, vec![f], false, 1);
    let g = &s.groups()[0];
    let mf1 = &g.families[0].family();
    assert_eq!(
        mf1.metrics[0].labels,
        vec![
            Label::new("instance", "instance2"),
            Label::new("job", "job1")
        ]
    );
}

#[test]
fn instance_added_empty_and_body_labels_kept() {
    let s = store();
    let k = key(&[("job", "k")]);
    push(
        &s,
        &k,
        vec![family(
            "m",
            MetricType::Untyped,
            &[(&[("instance", "foo"), ("job", "other")], 1.0)],
        )],
        false,
        1,
    );
    push(
        &s,
        &k,
        vec![family("n", MetricType::Untyped, &[(&[("x", "1")], 1.0)])],
        false,
        1,
    );
    let g = &s.groups()[0];
    assert_eq!(
        g.families[0].family().metrics[0].labels,
        vec![Label::new("instance", "foo"), Label::new("job", "k")]
    );
    assert_eq!(
        g.families[1].family().metrics[0].labels,
        vec![
            Label::new("instance", ""),
            Label::new("job", "k"),
            Label::new("x", "1")
        ]
    );
}

#[test]
fn managed_gauges_in_body_are_discarded() {
    let s = store();
    let k = key(&[("job", "pt")]);
    let body = vec![
        family(PUSH_TIME_METRIC, MetricType::Untyped, &[(&[], 5.0)]),
        family(PUSH_FAILURE_TIME_METRIC, MetricType::Untyped, &[(&[], 7.0)]),
    ];
    assert_eq!(
        push(&s, &k, body, false, 2_000_000_000),
        PushOutcome::Applied
    );
    let g = &s.groups()[0];
    assert_eq!(g.push_time(), 2.0);
    assert_eq!(g.failure_time(), 0.0);
}

#[test]
fn timestamps_reject_and_set_failure_time() {
    let s = store();
    let k = key(&[("job", "j")]);
    let mut f = family("b", MetricType::Untyped, &[(&[], 1.0)]);
    f.metrics[0].timestamp_ms = Some(1000);
    let problems = rejected(push(
        &s,
        &k,
        vec![family("a", MetricType::Untyped, &[(&[], 1.0)]), f],
        true,
        3_000_000_000,
    ));
    assert_eq!(problems, ["pushed metrics must not have timestamps"]);
    let g = &s.groups()[0];
    assert_eq!(
        names_of(&s, &k),
        [PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC]
    );
    assert_eq!((g.failure_time(), g.push_time()), (3.0, 0.0));
    assert!(!g.last_push_successful());
}

#[test]
fn type_conflict_across_groups() {
    let s = store();
    push(
        &s,
        &key(&[("job", "a")]),
        vec![family("some_metric", MetricType::Untyped, &[(&[], 1.0)])],
        false,
        1,
    );
    let p = rejected(push(
        &s,
        &key(&[("job", "b")]),
        vec![family("some_metric", MetricType::Gauge, &[(&[], 2.0)])],
        false,
        2,
    ));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("collected metric \"some_metric\" { label:"),
        "{}",
        p[0]
    );
    assert!(p[0].ends_with("is not a UNTYPED"), "{}", p[0]);
}

#[test]
fn type_conflict_with_own_family() {
    let s = store();
    let p = rejected(push(
        &s,
        &key(&[("job", "job1")]),
        vec![family(
            "process_open_fds",
            MetricType::Counter,
            &[(&[], 5.0)],
        )],
        false,
        1,
    ));
    assert_eq!(
        p,
        ["gathered metric family process_open_fds has type COUNTER but should have GAUGE"]
    );
}

#[test]
fn replacing_own_family_is_not_a_type_conflict() {
    let s = store();
    let k = key(&[("job", "a")]);
    push(
        &s,
        &k,
        vec![family("x", MetricType::Untyped, &[(&[], 1.0)])],
        true,
        1,
    );
    assert_eq!(
        push(
            &s,
            &k,
            vec![family("x", MetricType::Gauge, &[(&[], 1.0)])],
            false,
            2
        ),
        PushOutcome::Applied
    );
    assert_eq!(
        push(
            &s,
            &k,
            vec![family("x", MetricType::Counter, &[(&[], 1.0)])],
            true,
            3
        ),
        PushOutcome::Applied
    );
}

#[test]
fn duplicate_series_across_groups() {
    // Upstream TestRejectInconsistentPush.
    let s = store();
    let mf1 = || {
        family(
            "mf1",
            MetricType::Untyped,
            &[(&[("instance", "instance2")], -3000.0)],
        )
    };
    assert_eq!(
        push(&s, &key(&[("job", "job1")]), vec![mf1()], false, 1),
        PushOutcome::Applied
    );
    let k2 = key(&[("job", "job1"), ("instance", "instance2")]);
    let p = rejected(push(
        &s,
        &k2,
        vec![family("mf1", MetricType::Untyped, &[(&[], 42.0)])],
        false,
        2,
    ));
    assert!(
        p[0].ends_with("was collected before with the same name and label values"),
        "{}",
        p[0]
    );
    // The same series pushed again to its own group replaces itself.
    assert_eq!(
        push(&s, &key(&[("job", "job1")]), vec![mf1()], false, 3),
        PushOutcome::Applied
    );
}

#[test]
fn duplicate_series_within_push() {
    let s = store();
    let p = rejected(push(
        &s,
        &key(&[("job", "d")]),
        vec![family("d", MetricType::Untyped, &[(&[], 1.0), (&[], 2.0)])],
        false,
        1,
    ));
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("was collected before"));
    assert_eq!(s.usage(), (1, 2), "only the two gauges");
}

#[test]
fn suffix_collisions() {
    let s = store();
    let mut summary = MetricFamily::new("s", MetricType::Summary);
    summary.metrics.push(Metric {
        labels: vec![],
        value: Value::Summary(Default::default()),
        timestamp_ms: None,
    });
    assert_eq!(
        push(&s, &key(&[("job", "a")]), vec![summary], false, 1),
        PushOutcome::Applied
    );
    let p = rejected(push(
        &s,
        &key(&[("job", "b")]),
        vec![family("s_count", MetricType::Untyped, &[(&[], 5.0)])],
        false,
        2,
    ));
    assert_eq!(p, ["collected metric named \"s_count\" collides with previously collected summary named \"s\""]);
    assert_eq!(
        push(
            &s,
            &key(&[("job", "b")]),
            vec![family("s_bucket", MetricType::Untyped, &[(&[], 5.0)])],
            false,
            3
        ),
        PushOutcome::Applied
    );
    assert_eq!(
        push(
            &s,
            &key(&[("job", "c")]),
            vec![family("h_count", MetricType::Untyped, &[(&[], 5.0)])],
            false,
            3
        ),
        PushOutcome::Applied
    );
    let mut hist = MetricFamily::new("h", MetricType::Histogram);
    hist.metrics.push(Metric {
        labels: vec![],
        value: Value::Histogram(Default::default()),
        timestamp_ms: None,
    });
    let p = rejected(push(&s, &key(&[("job", "d")]), vec![hist], false, 4));
    assert_eq!(p, ["collected histogram or summary named \"h\" collides with previously collected metric named \"h_count\""]);
}

#[test]
fn value_kind_must_fit_type() {
    let s = store();
    let mut f = family("g", MetricType::Gauge, &[(&[], 1.0)]);
    f.metrics[0].value = Value::Untyped(1.0);
    let p = rejected(push(&s, &key(&[("job", "v")]), vec![f], false, 1));
    assert!(p[0].ends_with("is not a GAUGE"), "{}", p[0]);
}

#[test]
fn unchecked_mode_stores_conflicts_and_gather_fails_until_deleted() {
    let s = Store::new(vec![], CheckMode::Unchecked, NameValidation::Legacy);
    push(
        &s,
        &key(&[("job", "a")]),
        vec![family("x", MetricType::Untyped, &[(&[], 1.0)])],
        false,
        1,
    );
    assert_eq!(
        push(
            &s,
            &key(&[("job", "b")]),
            vec![family("x", MetricType::Gauge, &[(&[], 2.0)])],
            false,
            2
        ),
        PushOutcome::Applied
    );
    // Upstream's wording: the second group's series "is not a" the first's type.
    let err = s.gather().unwrap_err();
    assert_eq!(
        err.problems,
        [
            r#"collected metric "x" { label:{name:"instance" value:""} label:{name:"job" value:"b"} gauge:{value:2} } is not a UNTYPED"#
        ]
    );
    s.delete(&key(&[("job", "b")]));
    assert!(s.gather().is_ok());
}

#[test]
fn one_problem_per_suffix_collision() {
    let s = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
    let summary = || {
        let mut f = MetricFamily::new("s", MetricType::Summary);
        f.metrics.push(Metric {
            labels: vec![],
            value: Value::Summary(Default::default()),
            timestamp_ms: None,
        });
        f
    };
    push(&s, &key(&[("job", "a")]), vec![summary()], false, 1);
    // Two pushed members of one summary: one problem, upstream's single-error form.
    let p = rejected(push(
        &s,
        &key(&[("job", "b")]),
        vec![
            family("s_count", MetricType::Untyped, &[(&[], 5.0)]),
            family("s_sum", MetricType::Untyped, &[(&[], 5.0)]),
        ],
        false,
        2,
    ));
    assert_eq!(
        p,
        [
            r#"collected histogram or summary named "s" collides with previously collected metric named "s_count""#
        ]
    );
    // Stored without the check, the scrape reports the collision once too.
    let u = Store::new(vec![], CheckMode::Unchecked, NameValidation::Legacy);
    push(&u, &key(&[("job", "a")]), vec![summary()], false, 1);
    push(
        &u,
        &key(&[("job", "b")]),
        vec![family("s_count", MetricType::Untyped, &[(&[], 5.0)])],
        false,
        2,
    );
    let err = u.gather().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"collected histogram or summary named "s" collides with previously collected metric named "s_count""#
    );
}

#[test]
fn unchecked_duplicates_make_gather_fail() {
    let s = Store::new(vec![], CheckMode::Unchecked, NameValidation::Legacy);
    push(
        &s,
        &key(&[("job", "j")]),
        vec![family(
            "m",
            MetricType::Untyped,
            &[(&[("instance", "i")], 1.0)],
        )],
        false,
        1,
    );
    push(
        &s,
        &key(&[("job", "j"), ("instance", "i")]),
        vec![family("m", MetricType::Untyped, &[(&[], 1.0)])],
        false,
        1,
    );
    let err = s.gather().unwrap_err();
    assert!(err.problems[0].contains("was collected before"), "{err}");
}

#[test]
fn gather_merges_by_name_and_takes_help_of_first_group() {
    let s = store();
    let mut f2 = family("mf_help", MetricType::Gauge, &[(&[], 83.0)]);
    f2.help = Some("Help string for mfh2.".into());
    let mut f1 = family("mf_help", MetricType::Gauge, &[(&[], 3.0)]);
    f1.help = Some("Help string for mfh1.".into());
    push(&s, &key(&[("job", "job2")]), vec![f2], false, 1);
    push(&s, &key(&[("job", "job1")]), vec![f1], false, 1);
    let (_, gathered) = s.gather().expect("consistent");
    let mf = gathered
        .iter()
        .find(|g| g.name == "mf_help")
        .expect("present");
    assert_eq!(mf.help.as_deref(), Some("Help string for mfh1."));
    assert_eq!(mf.members.len(), 2);
    let names: Vec<&str> = gathered.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["mf_help", PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC]
    );
}

#[test]
fn delete_is_exact_and_wipe_empties() {
    let s = store();
    push(&s, &key(&[("job", "job1")]), vec![], false, 1);
    push(
        &s,
        &key(&[("job", "job1"), ("instance", "i1")]),
        vec![],
        false,
        1,
    );
    assert!(s.delete(&key(&[("job", "job1")])));
    assert!(!s.delete(&key(&[("job", "never")])));
    assert_eq!(s.groups().len(), 1);
    assert_eq!(s.wipe(), 1);
    assert_eq!(s.usage(), (0, 0));
    assert!(s.gather().expect("consistent").1.is_empty());
}

#[test]
fn restore_rebuilds_the_index() {
    let s = store();
    push(
        &s,
        &key(&[("job", "a")]),
        vec![family("x", MetricType::Untyped, &[(&[], 1.0)])],
        false,
        1,
    );
    let copy = s.groups();
    let t = store();
    t.restore(copy);
    assert_eq!(t.usage(), s.usage());
    let p = rejected(push(
        &t,
        &key(&[("job", "b")]),
        vec![family("x", MetricType::Gauge, &[(&[], 1.0)])],
        false,
        2,
    ));
    assert!(p[0].ends_with("is not a UNTYPED"));
}

#[test]
fn wait_for_change_sees_writes_and_times_out_when_idle() {
    let s = Arc::new(store());
    let g0 = s.generation();
    assert_eq!(s.wait_for_change(g0, Duration::from_millis(10)), g0);
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            push(&s, &key(&[("job", "w")]), vec![], false, 1);
        })
    };
    let g1 = s.wait_for_change(g0, Duration::from_secs(5));
    assert_ne!(g1, g0);
    writer.join().expect("writer thread");
}

#[test]
fn multi_error_format_matches_client_golang() {
    let r = Rejection {
        problems: vec!["a".into(), "b".into()],
    };
    assert_eq!(r.to_string(), "2 error(s) occurred:\n* a\n* b");
    let one = Rejection {
        problems: vec!["a".into()],
    };
    assert_eq!(one.to_string(), "a");
}

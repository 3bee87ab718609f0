//! Write semantics: PUT/POST/DELETE, label sanitising, managed gauges and
//! series order (§5.1–§5.4, §7.2; checklist cases 26–31).

use crate::util::{
    assert_empty, assert_lines, assert_text_error, gauges, lines, sample_value, Gateway,
};

const TIMESTAMP_ERROR: &str = "pushed metrics are invalid or inconsistent with existing metrics: pushed metrics must not have timestamps";

fn push_time(gw: &Gateway, labels: &str) -> f64 {
    let value = sample_value(
        &gw.scrape_raw_lines(),
        &format!("push_time_seconds{labels}"),
    );
    value.parse().expect("push time is a float")
}

fn failure_time(gw: &Gateway, labels: &str) -> String {
    sample_value(
        &gw.scrape_raw_lines(),
        &format!("push_failure_time_seconds{labels}"),
    )
}

// Case 26: PUT replaces the group, POST replaces only the named families.
#[test]
fn case_26_put_and_post_replace_rules() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/ps";
    let labels = r#"{instance="",job="ps"}"#;
    let ps_gauges = gauges(&[(labels, "0", "<t>")]);

    assert_empty(&gw.put(path, b"a 1\nb 1\n"), 200);
    assert_empty(&gw.post(path, b"a 2\nc 3\n"), 200);
    let mut expected = lines(&[&[
        "# TYPE a untyped",
        &format!("a{labels} 2"),
        "# TYPE b untyped",
        &format!("b{labels} 1"),
        "# TYPE c untyped",
        &format!("c{labels} 3"),
    ]]);
    expected.extend(ps_gauges.clone());
    assert_lines(&gw.scrape_lines(), &expected);

    assert_empty(&gw.put(path, b"c 4\n"), 200);
    let mut only_c = lines(&[&["# TYPE c untyped", &format!("c{labels} 4")]]);
    only_c.extend(ps_gauges.clone());
    assert_lines(&gw.scrape_lines(), &only_c);

    let before = push_time(&gw, labels);
    assert_empty(&gw.post(path, b""), 200);
    assert_lines(&gw.scrape_lines(), &only_c);
    let after = push_time(&gw, labels);
    assert!(
        after > before,
        "empty POST must renew push time: {before} → {after}"
    );

    assert_empty(&gw.put(path, b""), 200);
    assert_lines(&gw.scrape_lines(), &ps_gauges);
}

// Case 27 (TestReplace): a sequence of accepted and rejected PUTs.
#[test]
fn case_27_replace_sequence() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/job1";
    let labels = r#"{instance="",job="job1"}"#;

    // (1) rejected: failure time set, push time 0.
    assert_text_error(&gw.put(path, b"mf1 -3000 103948\n"), 400, TIMESTAMP_ERROR);
    assert_lines(&gw.scrape_lines(), &gauges(&[(labels, "<t>", "0")]));
    let t1 = failure_time(&gw, labels);

    // (2) accepted: failure time unchanged.
    assert_empty(&gw.put(path, b"mf1{instance=\"instance2\"} -3000\n"), 200);
    let mut expected = lines(&[&[
        "# TYPE mf1 untyped",
        r#"mf1{instance="instance2",job="job1"} -3000"#,
    ]]);
    expected.extend(gauges(&[(labels, "<t>", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);
    assert_eq!(failure_time(&gw, labels), t1);

    // (3) accepted: PUT drops mf1; fewer labels sort first.
    let body = b"# HELP mf2 doc string 2\n# TYPE mf2 gauge\nmf2{basename=\"basevalue2\",instance=\"instance2\",labelname=\"val2\"} +Inf\nmf2{instance=\"instance2\",labelname=\"val1\"} -Inf\n";
    assert_empty(&gw.put(path, body), 200);
    let mut with_mf2 = lines(&[&[
        "# HELP mf2 doc string 2",
        "# TYPE mf2 gauge",
        r#"mf2{instance="instance2",job="job1",labelname="val1"} -Inf"#,
        r#"mf2{basename="basevalue2",instance="instance2",job="job1",labelname="val2"} +Inf"#,
    ]]);
    with_mf2.extend(gauges(&[(labels, "<t>", "<t>")]));
    assert_lines(&gw.scrape_lines(), &with_mf2);

    // (4) rejected: mf2 kept, failure time renewed, API says unsuccessful.
    assert_text_error(&gw.put(path, b"mf1 1 5\n"), 400, TIMESTAMP_ERROR);
    assert_lines(&gw.scrape_lines(), &with_mf2);
    let t4 = failure_time(&gw, labels);
    assert!(
        t4.parse::<f64>().unwrap_or(0.0) > t1.parse::<f64>().unwrap_or(f64::MAX),
        "failure time must be renewed: {t1} → {t4}"
    );
    assert!(gw.api_metrics().contains(r#""last_push_successful":false"#));

    // (5) accepted empty PUT: only the gauges, successful again.
    assert_empty(&gw.put(path, b""), 200);
    assert_lines(&gw.scrape_lines(), &gauges(&[(labels, "<t>", "<t>")]));
    assert!(gw.api_metrics().contains(r#""last_push_successful":true"#));
}

// Case 28 (TestSanitizeLabels): URL labels override body labels; a missing
// instance becomes "".
#[test]
fn case_28_grouping_labels_override_body_labels() {
    let gw = Gateway::start(&[]);
    let with_instance = "/metrics/job/job1/instance/instance2";
    let body = b"mf1{instance=\"instance1\",job=\"job2\"} 42\n";
    assert_empty(&gw.post(with_instance, body), 200);
    let i2 = r#"{instance="instance2",job="job1"}"#;
    let mut expected = lines(&[&["# TYPE mf1 untyped", &format!("mf1{i2} 42")]]);
    expected.extend(gauges(&[(i2, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);

    assert_empty(&gw.post(with_instance, b"mf1{job=\"job1\"} 42\n"), 200);
    assert_lines(&gw.scrape_lines(), &expected);

    assert_empty(
        &gw.post("/metrics/job/job1", b"mf1{job=\"job1\"} 42\n"),
        200,
    );
    let no_instance = r#"{instance="",job="job1"}"#;
    let mut both = lines(&[&[
        "# TYPE mf1 untyped",
        &format!("mf1{no_instance} 42"),
        &format!("mf1{i2} 42"),
    ]]);
    both.extend(gauges(&[(no_instance, "0", "<t>"), (i2, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &both);
}

// Case 28: a body instance survives when the URL has none.
#[test]
fn case_28_body_instance_kept_when_not_in_url() {
    let gw = Gateway::start(&[]);
    assert_empty(
        &gw.post("/metrics/job/k", b"m{instance=\"foo\",job=\"other\"} 1\n"),
        200,
    );
    let mut expected = lines(&[&["# TYPE m untyped", r#"m{instance="foo",job="k"} 1"#]]);
    expected.extend(gauges(&[(r#"{instance="",job="k"}"#, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 29: body families named like the managed gauges are discarded.
#[test]
fn case_29_managed_gauges_in_body_are_discarded() {
    let gw = Gateway::start(&[]);
    let body = b"push_time_seconds 5\npush_failure_time_seconds 7\n";
    assert_empty(&gw.post("/metrics/job/pt", body), 200);
    let expected = gauges(&[(r#"{instance="",job="pt"}"#, "0", "<t>")]);
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 30: one family across groups; fewer labels sort first.
#[test]
fn case_30_family_merges_across_groups_in_order() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/j11", b"x 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/j7/a/", b"x 2\n"), 200);
    let j11 = r#"{instance="",job="j11"}"#;
    let j7 = r#"{a="",instance="",job="j7"}"#;
    let mut expected = gauges(&[(j11, "0", "<t>"), (j7, "0", "<t>")]);
    expected.extend(lines(&[&[
        "# TYPE x untyped",
        &format!("x{j11} 1"),
        &format!("x{j7} 2"),
    ]]));
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 31 (TestAddDeletePersistRestore): DELETE removes exactly one key.
#[test]
fn case_31_delete_removes_exactly_one_group() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/job1", b"m 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/job1/instance/i1", b"m 2\n"), 200);
    assert_empty(&gw.delete("/metrics/job/job1"), 202);
    let i1 = r#"{instance="i1",job="job1"}"#;
    let mut expected = lines(&[&["# TYPE m untyped", &format!("m{i1} 2")]]);
    expected.extend(gauges(&[(i1, "0", "<t>")]));
    gw.wait_for_lines(&expected);
}

// Case 31: deleting a missing group is still 202.
#[test]
fn case_31_delete_of_missing_group_is_202() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.delete("/metrics/job/never"), 202);
    assert!(gw.scrape_lines().is_empty());
}

//! The consistency check of checked mode and the effect of unchecked mode
//! (§5.6, §5.7, §7.3, §7.5; checklist cases 32–37).

use std::time::Duration;

use crate::util::{
    self, assert_empty, assert_lines, assert_text_error, gauges, lines, Gateway, Resp,
};

const PREFIX: &str = "pushed metrics are invalid or inconsistent with existing metrics: ";

/// Asserts a 400 whose one-line body starts with the prefix plus `start`
/// and ends with `end`.
#[track_caller]
fn assert_rejected(resp: &Resp, start: &str, end: &str) {
    assert_eq!(resp.status, 400, "body: {}", resp.text());
    let text = resp.text();
    let message = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("body must end in a newline: {text:?}"));
    assert!(
        message.starts_with(&format!("{PREFIX}{start}")),
        "body: {text}"
    );
    assert!(message.ends_with(end), "body: {text}");
}

/// Sample lines of `family` (without HELP/TYPE) in the raw scrape.
fn raw_samples(gw: &Gateway, family: &str) -> Vec<String> {
    let resp = gw.get("/metrics");
    assert_eq!(resp.status, 200);
    resp.text()
        .lines()
        .filter(|l| l.starts_with(&format!("{family} ")) || l.starts_with(&format!("{family}{{")))
        .map(str::to_string)
        .collect()
}

// Case 32 (TestRejectInconsistentPush): own-type conflict, then a duplicate
// series across groups.
#[test]
fn case_32_own_type_conflict_and_cross_group_duplicate() {
    let gw = Gateway::start(&[]);
    let job1 = r#"{instance="",job="job1"}"#;
    let i2 = r#"{instance="instance2",job="job1"}"#;

    // (a) an own gauge pushed as a counter.
    let resp = gw.post(
        "/metrics/job/job1",
        b"# TYPE process_open_fds counter\nprocess_open_fds 5\n",
    );
    assert_text_error(
        &resp,
        400,
        &format!("{PREFIX}gathered metric family process_open_fds has type COUNTER but should have GAUGE"),
    );
    assert_lines(&gw.scrape_lines(), &gauges(&[(job1, "<t>", "0")]));
    assert_eq!(
        raw_samples(&gw, "process_open_fds").len(),
        1,
        "only the own series"
    );

    // (b) accepted.
    assert_empty(
        &gw.post("/metrics/job/job1", b"mf1{instance=\"instance2\"} -3000\n"),
        200,
    );

    // (c) the same series from another group.
    let resp = gw.post("/metrics/job/job1/instance/instance2", b"mf1 42\n");
    assert_rejected(
        &resp,
        r#"collected metric "mf1""#,
        "was collected before with the same name and label values",
    );
    let mut expected = lines(&[&["# TYPE mf1 untyped", &format!("mf1{i2} -3000")]]);
    expected.extend(gauges(&[(job1, "<t>", "<t>"), (i2, "<t>", "0")]));
    assert_lines(&gw.scrape_lines(), &expected);
}

const UNTYPED_BODY: &[u8] = b"some_metric 1\n";
const GAUGE_BODY: &[u8] = b"# TYPE some_metric gauge\nsome_metric 2\n";

// Case 33: the same family with another type in another group.
#[test]
fn case_33_type_conflict_between_groups() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.post("/metrics/job/a", UNTYPED_BODY), 200);
    let resp = gw.post("/metrics/job/b", GAUGE_BODY);
    assert_rejected(
        &resp,
        r#"collected metric "some_metric""#,
        "is not a UNTYPED",
    );
}

// Case 34: the same series twice in one push.
#[test]
fn case_34_duplicate_series_in_one_push() {
    let gw = Gateway::start(&[]);
    let resp = gw.post("/metrics/job/d", b"d 1\nd 2\n");
    assert_rejected(
        &resp,
        r#"collected metric "d""#,
        "was collected before with the same name and label values",
    );
    assert_lines(
        &gw.scrape_lines(),
        &gauges(&[(r#"{instance="",job="d"}"#, "<t>", "0")]),
    );
}

// Case 35: `s_count` collides with summary `s` of another group.
#[test]
fn case_35_summary_suffix_collision() {
    let gw = Gateway::start(&[]);
    let summary = b"# TYPE s summary\ns_sum 1\ns_count 1\n";
    assert_empty(&gw.post("/metrics/job/a", summary), 200);
    let resp = gw.post("/metrics/job/b", b"s_count 5\n");
    let expected =
        r#"collected metric named "s_count" collides with previously collected summary named "s""#;
    // Upstream gathers groups in random map order, so either family may be
    // the "previously collected" one; pushgate's order is fixed (§5.6).
    let reversed = r#"collected histogram or summary named "s" collides with previously collected metric named "s_count""#;
    if util::upstream() && resp.text().contains(reversed) {
        assert_text_error(&resp, 400, &format!("{PREFIX}{reversed}"));
        return;
    }
    assert_text_error(&resp, 400, &format!("{PREFIX}{expected}"));
}

const MF_HELP_JOB2: &[u8] =
    b"# HELP mf_help Help string for mfh2.\n# TYPE mf_help gauge\nmf_help 83\n";
const MF_HELP_JOB1: &[u8] = b"# HELP process_open_fds Inconsistent doc string.\n# TYPE process_open_fds gauge\nprocess_open_fds 3\n# HELP mf_help Help string for mfh1.\n# TYPE mf_help gauge\nmf_help 3948.838\n";

/// Case 36's scrape checks after both pushes, in either order.
fn check_help_fix(gw: &Gateway) {
    let text = gw.get("/metrics").text();
    let all: Vec<&str> = text.lines().collect();
    // Upstream picks the HELP of a random group (§16 #2).
    if !util::upstream() {
        assert!(
            all.contains(&"# HELP mf_help Help string for mfh1."),
            "{text}"
        );
    }
    assert!(
        all.contains(&"# HELP process_open_fds Number of open file descriptors."),
        "own HELP wins: {text}"
    );
    let own = all
        .iter()
        .position(|l| l.starts_with("process_open_fds "))
        .unwrap_or_else(|| panic!("no own process_open_fds series: {text}"));
    assert_eq!(
        all.get(own + 1).copied(),
        Some(r#"process_open_fds{instance="",job="job1"} 3"#),
        "pushed series follows the unlabelled own one"
    );
}

// Case 36 (TestHelpStringFix): HELP of merged families.
#[test]
fn case_36_help_strings_are_fixed() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.post("/metrics/job/job2", MF_HELP_JOB2), 200);
    assert_empty(&gw.post("/metrics/job/job1", MF_HELP_JOB1), 200);
    check_help_fix(&gw);
}

// Case 36, pushes reversed: the HELP still comes from job1's group.
#[test]
fn case_36_help_strings_are_fixed_in_reverse_push_order() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.post("/metrics/job/job1", MF_HELP_JOB1), 200);
    assert_empty(&gw.post("/metrics/job/job2", MF_HELP_JOB2), 200);
    check_help_fix(&gw);
}

/// Polls the scrape until it answers `status` (at most 2 s).
fn wait_for_scrape_status(gw: &Gateway, status: u16) -> Resp {
    let resp = util::poll_until(
        Duration::from_secs(2),
        Duration::from_millis(20),
        || gw.get("/metrics"),
        |r| r.status == status,
    );
    assert_eq!(resp.status, status, "scrape body: {}", resp.text());
    resp
}

/// Stores the conflict of case 33 in unchecked mode.
fn push_conflict_unchecked(gw: &Gateway) {
    assert_empty(&gw.post("/metrics/job/a", UNTYPED_BODY), 202);
    assert_empty(&gw.post("/metrics/job/b", GAUGE_BODY), 202);
}

// Case 37: unchecked mode stores conflicts; scrapes fail until deleted.
#[test]
fn case_37_unchecked_conflict_fails_scrape_until_deleted() {
    let gw = Gateway::start(&["--push.disable-consistency-check"]);
    push_conflict_unchecked(&gw);
    let resp = wait_for_scrape_status(&gw, 500);
    assert!(
        resp.text()
            .starts_with("An error has occurred while serving metrics:"),
        "{}",
        resp.text()
    );
    let health = gw.get("/-/healthy");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_empty(&gw.delete("/metrics/job/b"), 202);
    wait_for_scrape_status(&gw, 200);
}

// Case 37 (pushgate: --web.health-includes-scrape, §17).
#[test]
fn case_37_health_includes_scrape() {
    if util::skip_on_upstream("pushgate-only flag --web.health-includes-scrape (spec §17)") {
        return;
    }
    let gw = Gateway::start(&[
        "--push.disable-consistency-check",
        "--web.health-includes-scrape",
    ]);
    push_conflict_unchecked(&gw);
    wait_for_scrape_status(&gw, 500);
    for path in ["/-/healthy", "/-/ready"] {
        let resp = gw.get(path);
        assert_eq!(resp.status, 500, "{path}");
        assert!(
            resp.text().starts_with("metrics cannot be gathered: "),
            "{path}: {}",
            resp.text()
        );
    }
}

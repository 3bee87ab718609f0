//! pushgate-only features beyond upstream: group expiry (`--push.group-ttl`
//! and the `Pushgate-Group-TTL` header), series and group budgets, and bulk
//! delete by selector (§17.1–§17.3).

use std::time::{Duration, Instant};

use crate::util::{assert_empty, poll_until, skip_on_upstream, Gateway};

/// Polls `cond` every 50 ms for at most `limit`; true once it holds.
fn eventually(limit: Duration, cond: impl FnMut() -> bool) -> bool {
    poll_until(limit, Duration::from_millis(50), cond, |ok| *ok)
}

fn has_group(gw: &Gateway, job: &str) -> bool {
    gw.api_metrics().contains(&format!(r#""job":"{job}""#))
}

/// True if a line of the full scrape (own families included) contains `needle`.
fn scrape_has(gw: &Gateway, needle: &str) -> bool {
    gw.get("/metrics")
        .text()
        .lines()
        .any(|l| l.contains(needle))
}

// Spec case 59: a group older than --push.group-ttl disappears from scrape and API.
#[test]
fn group_ttl_expires_stale_groups_only() {
    if skip_on_upstream("pushgate only: group TTL (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--push.group-ttl=1s"]);
    assert_empty(&gw.put("/metrics/job/ttl", b"m 1\n"), 200);
    assert!(has_group(&gw, "ttl"));
    assert!(
        eventually(Duration::from_secs(5), || !has_group(&gw, "ttl")),
        "group never expired"
    );
    assert!(!scrape_has(&gw, r#"job="ttl""#));
    assert!(scrape_has(&gw, "pushgate_expired_groups_total 1"));
    // A group that keeps being pushed stays.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1600) {
        assert_empty(&gw.put("/metrics/job/alive", b"m 1\n"), 200);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(has_group(&gw, "alive"));
}

#[test]
fn per_push_ttl_header() {
    if skip_on_upstream("pushgate only: group TTL header (spec §17)") {
        return;
    }
    let gw = Gateway::start(&[]);
    let r = gw.request(
        "PUT",
        "/metrics/job/short",
        &[("Pushgate-Group-TTL", "1s")],
        b"m 1\n",
    );
    assert_empty(&r, 200);
    assert_empty(&gw.put("/metrics/job/forever", b"m 1\n"), 200);
    assert!(
        eventually(Duration::from_secs(5), || !has_group(&gw, "short")),
        "short group never expired"
    );
    assert!(
        has_group(&gw, "forever"),
        "a group without a TTL never expires by default"
    );
}

#[test]
fn invalid_ttl_header_is_400_and_changes_nothing() {
    if skip_on_upstream("pushgate only: group TTL header (spec §17)") {
        return;
    }
    let gw = Gateway::start(&[]);
    for bad in ["soon", "-1s", "400d", "9000h"] {
        let r = gw.request(
            "PUT",
            "/metrics/job/t",
            &[("Pushgate-Group-TTL", bad)],
            b"m 1\n",
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(
            r.text().starts_with("invalid Pushgate-Group-TTL header"),
            "{}",
            r.text()
        );
    }
    assert_eq!(gw.api_metrics(), r#"{"status":"success","data":[]}"#);
}

#[test]
fn series_budget_rejects_at_the_limit_and_accepts_after_delete() {
    if skip_on_upstream("pushgate only: store budgets (spec §17)") {
        return;
    }
    // Each group: 2 series pushed + 2 push-time gauges = 4.
    let gw = Gateway::start(&["--push.max-series=8"]);
    assert_empty(&gw.put("/metrics/job/a", b"x 1\ny 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/b", b"x 1\ny 1\n"), 200);
    let before = gw.api_metrics();
    let r = gw.put("/metrics/job/c", b"x 1\ny 1\n");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("--push.max-series"), "{}", r.text());
    assert_eq!(gw.api_metrics(), before, "a rejected push changes nothing");
    assert!(scrape_has(&gw, "pushgate_series 8"));
    assert!(scrape_has(&gw, "pushgate_series_limit 8"));
    assert_eq!(gw.delete("/metrics/job/a").status, 202);
    assert_empty(&gw.put("/metrics/job/c", b"x 1\ny 1\n"), 200);
}

#[test]
fn group_budget_rejects_new_groups_but_not_updates() {
    if skip_on_upstream("pushgate only: store budgets (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--push.max-groups=1"]);
    assert_empty(&gw.put("/metrics/job/a", b"x 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/a", b"x 2\n"), 200);
    let r = gw.put("/metrics/job/b", b"x 1\n");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("--push.max-groups"), "{}", r.text());
    assert!(!has_group(&gw, "b"));
    assert!(scrape_has(&gw, "pushgate_groups 1"));
}

#[test]
fn bulk_delete_matches_exactly_the_selected_groups() {
    if skip_on_upstream("pushgate only: bulk delete (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--web.enable-admin-api"]);
    for path in [
        "/metrics/job/batch/env/dev",
        "/metrics/job/batch/env/prod",
        "/metrics/job/batch/env/dev/instance/x",
        "/metrics/job/other/env/dev",
    ] {
        assert_empty(&gw.put(path, b"m 1\n"), 200);
    }
    let sel = "/api/v1/groups?match[]=%7Bjob%3D%22batch%22%2Cenv%3D%22dev%22%7D";
    let r = gw.request("DELETE", sel, &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"status":"success","data":{"deleted":2}}"#);
    let left = gw.api_metrics();
    assert!(
        left.contains(r#""labels":{"env":"prod","job":"batch"}"#),
        "{left}"
    );
    assert!(
        left.contains(r#""labels":{"env":"dev","job":"other"}"#),
        "{left}"
    );
    assert!(!left.contains(r#""env":"dev","job":"batch""#), "{left}");
    assert!(!left.contains(r#""instance":"x""#), "{left}");
    // Two selectors are a union; nothing left to match gives 0.
    let union = "/api/v1/groups?match[]={job=\"other\"}&match[]={env=\"prod\"}";
    let r = gw.request("DELETE", &union.replace('"', "%22"), &[], b"");
    assert_eq!(r.text(), r#"{"status":"success","data":{"deleted":2}}"#);
    assert_eq!(gw.api_metrics(), r#"{"status":"success","data":[]}"#);
}

#[test]
fn bulk_delete_refuses_unclear_selectors() {
    if skip_on_upstream("pushgate only: bulk delete (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--web.enable-admin-api"]);
    assert_empty(&gw.put("/metrics/job/keep", b"m 1\n"), 200);
    for query in [
        "",
        "?match[]=%7B%7D",
        "?match[]=%7Bjob%3D~%22.%2A%22%7D",
        "?match[]=job",
    ] {
        let r = gw.request("DELETE", &format!("/api/v1/groups{query}"), &[], b"");
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert!(
            r.text()
                .starts_with(r#"{"status":"error","errorType":"bad_data""#),
            "{}",
            r.text()
        );
    }
    assert!(has_group(&gw, "keep"));
}

#[test]
fn bulk_delete_needs_the_admin_api() {
    if skip_on_upstream("pushgate only: bulk delete (spec §17)") {
        return;
    }
    let gw = Gateway::start(&[]);
    let r = gw.request(
        "DELETE",
        "/api/v1/groups?match[]=%7Bjob%3D%22a%22%7D",
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
}

//! Routing, route prefixes and health (§1, §2; checklist cases 1–4, 50, 51).

use crate::util::{assert_text_error, Gateway, PLAIN_CONTENT_TYPE};

// Case 1 (TestHealthyReady).
#[test]
fn case_01_healthy_and_ready_answer_ok() {
    let gw = Gateway::start(&[]);
    for path in ["/-/healthy", "/-/ready"] {
        let resp = gw.get(path);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.text(), "OK", "{path}: no trailing newline");
        assert_eq!(
            resp.header("Content-Type"),
            Some(PLAIN_CONTENT_TYPE),
            "{path}"
        );
    }
}

// Case 2.
#[test]
fn case_02_get_on_push_path_is_405_with_allow() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/metrics/job/x");
    assert_text_error(&resp, 405, "Method Not Allowed");
    assert_eq!(resp.header("Allow"), Some("DELETE, OPTIONS, POST, PUT"));
}

// Case 3, first part.
#[test]
fn case_03_put_with_trailing_slash_redirects_307() {
    let gw = Gateway::start(&[]);
    let resp = gw.put("/metrics/job/", b"");
    assert_eq!(resp.status, 307, "body: {}", resp.text());
    assert_eq!(resp.header("Location"), Some("/metrics/job"));
}

// Case 3, second part.
#[test]
fn case_03_unknown_path_is_404() {
    let gw = Gateway::start(&[]);
    assert_text_error(&gw.get("/nope"), 404, "404 page not found");
}

// Case 4.
#[test]
fn case_04_double_slash_redirects_301_to_cleaned_path() {
    let gw = Gateway::start(&[]);
    let resp = gw.put("/metrics/job/j8/a//b/c", b"");
    assert_eq!(resp.status, 301, "body: {}", resp.text());
    assert_eq!(resp.header("Location"), Some("/metrics/job/j8/a/b/c"));
    assert!(
        gw.scrape_lines().is_empty(),
        "a redirected push must not reach the store"
    );
}

// Case 50: --web.external-url=http://example.com/pg/ moves every route under
// /pg (route prefix from the URL's path) and the UI references /pg/static/.
#[test]
fn case_50_external_url_sets_the_route_prefix() {
    let gw = Gateway::start(&["--web.external-url=http://example.com/pg/"]);
    assert_eq!(gw.put("/pg/metrics/job/a", b"m 1\n").status, 200);
    assert_eq!(gw.put("/metrics/job/a", b"m 1\n").status, 404);
    let r = gw.get("/pg");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/pg/"));
    assert_eq!(gw.get("/pg/-/healthy").status, 200);
    assert_eq!(gw.get("/-/healthy").status, 404);
    let page = gw.get("/pg/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/pg/static/"), "{}", page.text());
    assert!(gw
        .get("/pg/metrics")
        .text()
        .contains(r#"m{instance="",job="a"} 1"#));
}

// Case 50, second half: without a prefix the UI references ./static/.
#[test]
fn case_50_without_prefix_assets_are_relative() {
    let gw = Gateway::start(&[]);
    let page = gw.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("./static/"), "{}", page.text());
}

// Case 51: --web.route-prefix serves assets under it; "/" means no prefix.
#[test]
fn case_51_route_prefix_serves_static_assets() {
    let gw = Gateway::start(&["--web.route-prefix=/route-prefix"]);
    assert_eq!(gw.get("/route-prefix/static/functions.js").status, 200);
    assert_eq!(gw.get("/route-prefix/static/missing.js").status, 404);
    assert_eq!(gw.get("/static/functions.js").status, 404);
    let root = Gateway::start(&["--web.route-prefix=/"]);
    assert_eq!(root.get("/static/functions.js").status, 200);
    assert_eq!(root.put("/metrics/job/r", b"m 1\n").status, 200);
}

// Route prefix overrides the external URL's path (§2.3 rule 1) and the
// telemetry path moves under it.
#[test]
fn route_prefix_wins_over_external_url_and_moves_telemetry_path() {
    if crate::util::skip_on_upstream(
        "pushgate only: telemetry path under the route prefix (spec §2.3)",
    ) {
        return;
    }
    let gw = Gateway::start(&[
        "--web.external-url=http://example.com/ext/",
        "--web.route-prefix=/rp",
        "--web.telemetry-path=scrape",
    ]);
    assert_eq!(gw.put("/rp/metrics/job/a", b"m 1\n").status, 200);
    assert!(gw
        .get("/rp/scrape")
        .text()
        .contains(r#"m{instance="",job="a"} 1"#));
    assert_eq!(gw.get("/rp/metrics").status, 404);
    assert_eq!(gw.get("/ext/-/healthy").status, 404);
}

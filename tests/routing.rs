//! Routing and health (§1, §2; checklist cases 1–4).

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

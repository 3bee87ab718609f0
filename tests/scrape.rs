//! The scrape endpoint: content type, compression, float format and HEAD
//! (§7; checklist cases 38 and 40–42; protobuf scrapes are in `proto_bodies`).

use crate::util::{
    self, assert_empty, assert_lines, gauges, gunzip, without_own_families, Gateway,
    TEXT_CONTENT_TYPE,
};

// Case 38: the text format by default.
#[test]
fn case_38_text_content_type_by_default() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/metrics");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(TEXT_CONTENT_TYPE).as_str())
    );
    assert_eq!(resp.header("Content-Encoding"), None);
}

// Case 38: OpenMetrics is not offered; text 0.0.4 is served instead.
#[test]
fn case_38_openmetrics_accept_gets_text() {
    let gw = Gateway::start(&[]);
    let accept = [("Accept", "application/openmetrics-text;version=1.0.0")];
    let resp = gw.request("GET", "/metrics", &accept, b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(TEXT_CONTENT_TYPE).as_str())
    );
}

// Case 40.
#[test]
fn case_40_gzip_scrape() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/z", b"zipped 1\n"), 200);
    let resp = gw.request("GET", "/metrics", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"));
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(TEXT_CONTENT_TYPE).as_str())
    );
    let text = String::from_utf8(gunzip(&resp.body)).expect("UTF-8 exposition");
    let unzipped = util::normalise_push_times(&without_own_families(&text));
    assert_lines(&unzipped, &gw.scrape_lines());
    assert!(
        text.contains("\nprocess_open_fds "),
        "own metrics included: {text}"
    );
}

// Case 41: values in Go float format.
#[test]
fn case_41_go_float_format() {
    let gw = Gateway::start(&[]);
    let body = b"a 1583781848.025745\nb 0.0001\nc 0.00001\nd 1000000\ne 123456\nf +Inf\ng NaN\nh -Inf\ni 1e21\n";
    assert_empty(&gw.put("/metrics/job/f", body), 200);
    let labels = r#"{instance="",job="f"}"#;
    let values = [
        ("a", "1.583781848025745e+09"),
        ("b", "0.0001"),
        ("c", "1e-05"),
        ("d", "1e+06"),
        ("e", "123456"),
        ("f", "+Inf"),
        ("g", "NaN"),
        ("h", "-Inf"),
        ("i", "1e+21"),
    ];
    let mut expected = Vec::new();
    for (name, value) in values {
        expected.push(format!("# TYPE {name} untyped"));
        expected.push(format!("{name}{labels} {value}"));
    }
    expected.extend(gauges(&[(labels, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 42 (pushgate: HEAD on every GET route; upstream answers 405).
#[test]
fn case_42_head_on_scrape() {
    if util::skip_on_upstream("pushgate only: HEAD, upstream answers 405 (spec §17)") {
        return;
    }
    let gw = Gateway::start(&[]);
    let resp = gw.request("HEAD", "/metrics", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(TEXT_CONTENT_TYPE).as_str())
    );
    assert!(
        resp.body.is_empty(),
        "HEAD must not send a body: {:?}",
        resp.text()
    );
}

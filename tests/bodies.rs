//! Text request bodies, gzip and the body size limit (§4, §5.5, §17;
//! checklist cases 19–22, 24 and 58).

use crate::util::{
    self, assert_empty, assert_lines, assert_text_error, gauges, gzip, lines, Gateway,
};

const TIMESTAMP_ERROR: &str = "pushed metrics are invalid or inconsistent with existing metrics: pushed metrics must not have timestamps";

// Case 19 (TestPush, text).
#[test]
fn case_19_text_push() {
    let gw = Gateway::start(&[]);
    let body = b"some_metric 3.14\nanother_metric{instance=\"testinstance\",job=\"testjob\"} 42\n";
    assert_empty(
        &gw.post("/metrics/job/testjob/instance/testinstance", body),
        200,
    );
    let labels = r#"{instance="testinstance",job="testjob"}"#;
    let mut expected = lines(&[&[
        "# TYPE another_metric untyped",
        &format!("another_metric{labels} 42"),
    ]]);
    expected.extend(gauges(&[(labels, "0", "<t>")]));
    expected.extend(lines(&[&[
        "# TYPE some_metric untyped",
        &format!("some_metric{labels} 3.14"),
    ]]));
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 20.
#[test]
fn case_20_invalid_text_is_400_and_creates_no_group() {
    let gw = Gateway::start(&[]);
    let resp = gw.post("/metrics/job/testjob", b"blablabla\n");
    assert_text_error(
        &resp,
        400,
        r#"text format parsing error in line 1: expected float as value, got """#,
    );
    assert!(gw.scrape_lines().is_empty());
}

// Case 21: each malformed body gets the parser's positioned message.
#[test]
fn case_21_parser_errors() {
    let gw = Gateway::start(&[]);
    let table: &[(&str, &[u8], &str)] = &[
        (
            "no final newline",
            b"a 1",
            "line 1: unexpected end of input stream",
        ),
        (
            "carriage return",
            b"a 1\r\n",
            r#"line 1: expected float as value, got "1\r""#,
        ),
        (
            "second HELP",
            b"# HELP h1 x\n# HELP h1 y\nh1 1\n",
            r#"line 2: second HELP line for metric name "h1""#,
        ),
        (
            "second TYPE",
            b"# TYPE h2 gauge\nh2 1\n# TYPE h2 gauge\n",
            r#"line 3: second TYPE line for metric name "h2", or TYPE reported after samples"#,
        ),
        (
            "duplicate label",
            b"x{a=\"1\",a=\"2\"} 1\n",
            r#"line 1: duplicate label names for metric "x""#,
        ),
        (
            "invalid UTF-8 label value",
            b"x{a=\"\xff\"} 1\n",
            r#"line 1: invalid label value "\xff""#,
        ),
    ];
    for (scenario, body, message) in table {
        let resp = gw.post("/metrics/job/p", body);
        assert_eq!(resp.status, 400, "{scenario}: {}", resp.text());
        assert_eq!(
            resp.text(),
            format!("text format parsing error in {message}\n"),
            "{scenario}"
        );
    }
    assert!(
        gw.scrape_lines().is_empty(),
        "parse errors never touch the store"
    );
}

// Case 21: differing label dimensions in one family are accepted.
#[test]
fn case_21_mixed_label_dimensions_are_accepted() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.post("/metrics/job/p", b"a 1\na{x=\"2\"} 2\n"), 200);
    let mut expected = lines(&[&[
        "# TYPE a untyped",
        r#"a{instance="",job="p"} 1"#,
        r#"a{instance="",job="p",x="2"} 2"#,
    ]]);
    expected.extend(gauges(&[(r#"{instance="",job="p"}"#, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);
}

/// The scrape after a rejected timestamped push to a fresh group.
fn rejected_testinstance_lines() -> Vec<String> {
    gauges(&[(r#"{instance="testinstance",job="testjob"}"#, "<t>", "0")])
}

// Case 22 (TestRejectTimestamps), checked mode.
#[test]
fn case_22_timestamps_are_rejected() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/testjob/instance/testinstance";
    let resp = gw.post(path, b"a 1\nb 1 1000\n");
    assert_text_error(&resp, 400, TIMESTAMP_ERROR);
    assert_lines(&gw.scrape_lines(), &rejected_testinstance_lines());
}

// Case 22, unchecked mode.
#[test]
fn case_22_timestamps_are_dropped_in_unchecked_mode() {
    let gw = Gateway::start(&["--push.disable-consistency-check"]);
    let path = "/metrics/job/testjob/instance/testinstance";
    assert_empty(&gw.post(path, b"a 1\nb 1 1000\n"), 202);
    gw.wait_for_lines(&rejected_testinstance_lines());
}

fn gz_lines(value: &str) -> Vec<String> {
    let labels = r#"{instance="",job="gz"}"#;
    let mut expected = gauges(&[(labels, "0", "<t>")]);
    expected.extend(lines(&[&[
        "# TYPE some_metric untyped",
        &format!("some_metric{labels} {value}"),
    ]]));
    expected
}

// Case 24.
#[test]
fn case_24_gzip_body() {
    let gw = Gateway::start(&[]);
    let body = gzip(b"some_metric 3.14\n");
    let resp = gw.request(
        "POST",
        "/metrics/job/gz",
        &[("Content-Encoding", "gzip")],
        &body,
    );
    assert_empty(&resp, 200);
    assert_lines(&gw.scrape_lines(), &gz_lines("3.14"));
}

// Case 24: the encoding token is case-insensitive.
#[test]
fn case_24_gzip_header_in_upper_case() {
    if util::skip_on_upstream("upstream 1.5.1 matches gzip case-sensitively; 1.11.3 does not") {
        return;
    }
    let gw = Gateway::start(&[]);
    let body = gzip(b"some_metric 3.14\n");
    let resp = gw.request(
        "POST",
        "/metrics/job/gz",
        &[("Content-Encoding", "GZIP")],
        &body,
    );
    assert_empty(&resp, 200);
    assert_lines(&gw.scrape_lines(), &gz_lines("3.14"));
}

// Case 24: a body that is not gzip is a 400 with the decoder's message.
#[test]
fn case_24_corrupt_gzip_is_400() {
    let gw = Gateway::start(&[]);
    let resp = gw.request(
        "POST",
        "/metrics/job/gz",
        &[("Content-Encoding", "gzip")],
        b"xyz",
    );
    assert_eq!(resp.status, 400, "body: {}", resp.text());
    assert!(
        resp.text().ends_with('\n'),
        "one-line message: {:?}",
        resp.text()
    );
    assert!(gw.scrape_lines().is_empty());
}

/// A valid text body of exactly `len` bytes (a comment pads `m 1`).
fn padded_body(len: usize) -> Vec<u8> {
    let sample = b"m 1\n";
    let mut body = b"# ".to_vec();
    body.resize(len - sample.len() - 1, b'x');
    body.push(b'\n');
    body.extend_from_slice(sample);
    assert_eq!(body.len(), len);
    body
}

const LIMIT_ERROR: &str = "request body exceeds the limit of 100 bytes";

// Case 58 (pushgate: --push.max-body-bytes), over the limit on the wire.
#[test]
fn case_58_body_over_limit_is_413() {
    if util::skip_on_upstream("pushgate-only flag --push.max-body-bytes (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--push.max-body-bytes=100"]);
    assert_text_error(
        &gw.put("/metrics/job/big", &padded_body(101)),
        413,
        LIMIT_ERROR,
    );
    assert!(gw.scrape_lines().is_empty(), "store unchanged");
}

// Case 58: the limit applies again after decompression.
#[test]
fn case_58_gzip_inflating_over_limit_is_413() {
    if util::skip_on_upstream("pushgate-only flag --push.max-body-bytes (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--push.max-body-bytes=100"]);
    let body = gzip(&padded_body(10_000));
    assert!(
        body.len() < 100,
        "the compressed body is {} bytes",
        body.len()
    );
    let resp = gw.request(
        "PUT",
        "/metrics/job/big",
        &[("Content-Encoding", "gzip")],
        &body,
    );
    assert_text_error(&resp, 413, LIMIT_ERROR);
    assert!(gw.scrape_lines().is_empty(), "store unchanged");
}

// Case 58: a body of exactly the limit is accepted (§5 of the style guide).
#[test]
fn case_58_body_of_exactly_the_limit_is_accepted() {
    if util::skip_on_upstream("pushgate-only flag --push.max-body-bytes (spec §17)") {
        return;
    }
    let gw = Gateway::start(&["--push.max-body-bytes=100"]);
    assert_empty(&gw.put("/metrics/job/big", &padded_body(100)), 200);
    let mut expected = lines(&[&["# TYPE m untyped", r#"m{instance="",job="big"} 1"#]]);
    expected.extend(gauges(&[(r#"{instance="",job="big"}"#, "0", "<t>")]));
    assert_lines(&gw.scrape_lines(), &expected);
}

// Found by fuzzing: a NaN count is Go's uint64(NaN) = 2^63, as upstream
// exposes it, not 0 (fuzz/regressions/text_parse/nan_bucket_count).
#[test]
fn nan_counts_are_exposed_as_upstream_does() {
    let gw = Gateway::start(&[]);
    let body = b"#TYPE h histogram\nh{le=\"0\"}NaN\n# TYPE s summary\ns_count NaN\ns_sum 1\n";
    assert_empty(&gw.put("/metrics/job/nan", body), 200);
    let labels = r#"instance="",job="nan""#;
    let mut expected = lines(&[&[
        "# TYPE h histogram",
        &format!(r#"h_bucket{{{labels},le="0"}} 9.223372036854776e+18"#),
        &format!(r#"h_bucket{{{labels},le="+Inf"}} 0"#),
        &format!("h_sum{{{labels}}} 0"),
        &format!("h_count{{{labels}}} 0"),
    ]]);
    expected.extend(gauges(&[(&format!("{{{labels}}}"), "0", "<t>")]));
    expected.extend(lines(&[&[
        "# TYPE s summary",
        &format!("s_sum{{{labels}}} 1"),
        &format!("s_count{{{labels}}} 9.223372036854776e+18"),
    ]]));
    assert_lines(&gw.scrape_lines(), &expected);
}

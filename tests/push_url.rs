//! The push URL grammar (§3; checklist cases 5–18, except case 17's
//! protobuf part, which lives in `proto_bodies`).

use crate::util::{self, assert_empty, assert_lines, assert_text_error, gauges, lines, Gateway};

const EMPTY_API: &str = r#"{"status":"success","data":[]}"#;

/// Pushes `m 1` with PUT to `path` and returns the status.
fn put_m(gw: &Gateway, path: &str) -> u16 {
    let resp = gw.put(path, b"m 1\n");
    resp.status
}

/// The scrape of one group holding only `m 1` under `labels`.
fn only_m(labels: &str) -> Vec<String> {
    let mut expected = lines(&[&["# TYPE m untyped", &format!("m{labels} 1")]]);
    // In these cases every label of `m` is a grouping label (or `instance`),
    // so the managed gauges carry the same labels.
    expected.extend(gauges(&[(labels, "0", "<t>")]));
    expected
}

// Case 5: POST.
#[test]
fn case_05_base64_empty_job_is_rejected_on_post() {
    let gw = Gateway::start(&[]);
    let resp = gw.post("/metrics/job@base64/=", b"");
    assert_text_error(&resp, 400, "job name is required");
    assert_eq!(gw.api_metrics(), EMPTY_API);
}

// Case 5: DELETE.
#[test]
fn case_05_base64_empty_job_is_rejected_on_delete() {
    let gw = Gateway::start(&[]);
    let resp = gw.delete("/metrics/job@base64/=");
    assert_text_error(&resp, 400, "job name is required");
    assert_eq!(gw.api_metrics(), EMPTY_API);
}

// Case 6.
#[test]
fn case_06_job_only_empty_body_creates_the_two_gauges() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.post("/metrics/job/testjob", b""), 200);
    let expected = gauges(&[(r#"{instance="",job="testjob"}"#, "0", "<t>")]);
    assert_lines(&gw.scrape_lines(), &expected);
}

// Case 7.
#[test]
fn case_07_regular_labels() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/j/label_name1/label_value1/label_name2/label_value2";
    assert_eq!(put_m(&gw, path), 200);
    let labels = r#"{instance="",job="j",label_name1="label_value1",label_name2="label_value2"}"#;
    assert_lines(&gw.scrape_lines(), &only_m(labels));
}

// Case 8.
#[test]
fn case_08_invalid_label_name() {
    let gw = Gateway::start(&[]);
    let resp = gw.put(
        "/metrics/job/j/label_name1/label_value1/a=b/label_value2",
        b"m 1\n",
    );
    assert_text_error(&resp, 400, r#"improper label name "a=b""#);
    assert!(gw.scrape_lines().is_empty());
}

// Case 9.
#[test]
fn case_09_reserved_label_name() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/j/label_name1/label_value1/__label_name2/label_value2";
    let resp = gw.put(path, b"m 1\n");
    assert_text_error(&resp, 400, r#"improper label name "__label_name2""#);
    assert!(gw.scrape_lines().is_empty());
}

// Case 10.
#[test]
fn case_10_unencoded_slash_is_odd_components() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/j/label_name1/label_value1/label_name2/label/value2";
    let resp = gw.put(path, b"m 1\n");
    assert_text_error(
        &resp,
        400,
        r#"odd number of components in label string "/label_name1/label_value1/label_name2/label/value2""#,
    );
    assert!(gw.scrape_lines().is_empty());
}

// Case 10 (§2.1; issue 17): pushgate splits the raw path at `/` before decoding each
// segment, so `%2F` stays inside its value (prom-client sends a `/` in a value that
// way). Deliberately not upstream's: 1.5.1 answers 301 to a path where `%2F` became a
// separator (clients take it for success and the push is lost), later releases 400.
#[test]
fn case_10_percent_encoded_slash_stays_in_the_value() {
    if util::upstream() {
        return;
    }
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/j/instance/a%2Fb", b"m 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/j/path/%2Fvar%2Ftmp", b"m 1\n"), 200);
    let mut expected = lines(&[&[
        "# TYPE m untyped",
        r#"m{instance="a/b",job="j"} 1"#,
        r#"m{instance="",job="j",path="/var/tmp"} 1"#,
    ]]);
    expected.extend(gauges(&[
        (r#"{instance="a/b",job="j"}"#, "0", "<t>"),
        (r#"{instance="",job="j",path="/var/tmp"}"#, "0", "<t>"),
    ]));
    assert_lines(&gw.scrape_lines(), &expected);
    // The same path deletes the same group.
    assert_empty(&gw.delete("/metrics/job/j/path/%2Fvar%2Ftmp"), 202);
    // A %2F that would make `/metrics/job` itself something else is refused.
    let resp = gw.put("/metrics/job%2F/j4", b"m 1\n");
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.text().contains("@base64"), "{}", resp.text());
}

// Case 11.
#[test]
fn case_11_encoded_slash_with_padding() {
    let gw = Gateway::start(&[]);
    let path =
        "/metrics/job/j/label_name1@base64/bGFiZWwvdmFsdWUx/label_name2@base64/bGFiZWwvdmFsdWUy==";
    assert_eq!(put_m(&gw, path), 200);
    let labels = r#"{instance="",job="j",label_name1="label/value1",label_name2="label/value2"}"#;
    assert_lines(&gw.scrape_lines(), &only_m(labels));
}

// Case 12.
#[test]
fn case_12_invalid_base64_value() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/j/label_name1@base64/foo.bar/label_name2/label_value2";
    let resp = gw.put(path, b"m 1\n");
    assert_text_error(
        &resp,
        400,
        r#"invalid base64 encoding for label label_name1="foo.bar": illegal base64 data at input byte 3"#,
    );
    assert!(gw.scrape_lines().is_empty());
}

// Case 12 (§3.1 step 1): only the text before the quote is specified.
#[test]
fn case_12_invalid_base64_job() {
    let gw = Gateway::start(&[]);
    let resp = gw.put("/metrics/job@base64/##", b"m 1\n");
    assert_eq!(resp.status, 400);
    assert!(
        resp.text()
            .starts_with("invalid base64 encoding in job name "),
        "body: {}",
        resp.text()
    );
    assert!(resp
        .text()
        .ends_with(": illegal base64 data at input byte 0\n"));
}

// Case 13.
#[test]
fn case_13_base64_job_and_instance_then_delete() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl";
    assert_empty(&gw.post(path, b"some_metric 3.14\n"), 200);
    let labels = r#"{instance="testinstance",job="test/job"}"#;
    let mut expected = gauges(&[(labels, "0", "<t>")]);
    expected.extend(lines(&[&[
        "# TYPE some_metric untyped",
        &format!("some_metric{labels} 3.14"),
    ]]));
    assert_lines(&gw.scrape_lines(), &expected);

    assert_empty(&gw.delete(path), 202);
    gw.wait_for_lines(&[]);
    assert_eq!(gw.api_metrics(), EMPTY_API);
}

// Case 14: `@base64/=` is the empty value.
#[test]
fn case_14_base64_equals_sign_is_empty_value() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job/example/first_label@base64/=/second_label/foobar";
    assert_eq!(put_m(&gw, path), 200);
    let labels = r#"{first_label="",instance="",job="example",second_label="foobar"}"#;
    assert_lines(&gw.scrape_lines(), &only_m(labels));
}

// Case 14: a trailing empty value.
#[test]
fn case_14_trailing_slash_gives_empty_value() {
    let gw = Gateway::start(&[]);
    assert_eq!(put_m(&gw, "/metrics/job/j7/a/"), 200);
    assert_lines(
        &gw.scrape_lines(),
        &only_m(r#"{a="",instance="",job="j7"}"#),
    );
}

// Case 14: `/metrics/job/j9/` is the group of `/metrics/job/j9`.
#[test]
fn case_14_trailing_slash_after_job_is_same_group() {
    let gw = Gateway::start(&[]);
    assert_eq!(put_m(&gw, "/metrics/job/j9/"), 200);
    assert_lines(&gw.scrape_lines(), &only_m(r#"{instance="",job="j9"}"#));
    assert_empty(&gw.delete("/metrics/job/j9"), 202);
    gw.wait_for_lines(&[]);
}

// Case 15.
#[test]
fn case_15_last_duplicate_wins_and_job_pair_is_ignored() {
    let gw = Gateway::start(&[]);
    assert_eq!(put_m(&gw, "/metrics/job/j11/job/override/b/1/b/2"), 200);
    assert_lines(
        &gw.scrape_lines(),
        &only_m(r#"{b="2",instance="",job="j11"}"#),
    );
}

// Case 16.
#[test]
fn case_16_u_prefixed_name_is_literal_without_utf8_flag() {
    let gw = Gateway::start(&[]);
    assert_eq!(put_m(&gw, "/metrics/job/j/U__label_2e_name2/v"), 200);
    let labels = r#"{U__label_2e_name2="v",instance="",job="j"}"#;
    assert_lines(&gw.scrape_lines(), &only_m(labels));
}

const UTF8_BODY: &[u8] = b"some_metric 3.14\n{\"another.metric\",instance=\"testinstance\",job=\"testjob\",\"dotted.label.name\"=\"mylabelvalue\"} 42\n";
const ALLOW_UTF8: &str = "text/plain;version=0.0.4;escaping=allow-utf-8";

// Case 17: text body and U__ URL name with --push.enable-utf8-names.
#[test]
fn case_17_utf8_names_in_text_and_url() {
    if util::skip_on_upstream("upstream 1.5.1 predates --push.enable-utf8-names") {
        return;
    }
    let gw = Gateway::start(&["--push.enable-utf8-names"]);
    let path = "/metrics/job/testjob/instance/testinstance/U__dotted_2e_label_2e_name/mylabelvalue";
    assert_empty(&gw.post(path, UTF8_BODY), 200);

    let resp = gw.request("GET", "/metrics", &[("Accept", ALLOW_UTF8)], b"");
    assert_eq!(resp.status, 200);
    let content_type = resp.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.ends_with("; escaping=allow-utf-8"),
        "{content_type}"
    );
    let utf8_line = r#"{"another.metric","dotted.label.name"="mylabelvalue",instance="testinstance",job="testjob"} 42"#;
    assert!(
        resp.text().lines().any(|l| l == utf8_line),
        "{}",
        resp.text()
    );

    let plain = gw.get("/metrics");
    assert_eq!(
        plain.header("Content-Type"),
        Some(util::scrape_content_type(util::TEXT_CONTENT_TYPE).as_str())
    );
    let escaped_line = r#"another_metric{dotted_label_name="mylabelvalue",instance="testinstance",job="testjob"} 42"#;
    assert!(
        plain.text().lines().any(|l| l == escaped_line),
        "{}",
        plain.text()
    );

    assert_empty(&gw.delete(path), 202);
    gw.wait_for_lines(&[]);
}

// Case 17: the base64 form of the URL gives the same labels, job "test/job".
#[test]
fn case_17_utf8_names_with_base64_url() {
    if util::skip_on_upstream("upstream 1.5.1 predates --push.enable-utf8-names") {
        return;
    }
    let gw = Gateway::start(&["--push.enable-utf8-names"]);
    let path = "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl/U__dotted_2e_label_2e_name@base64/bXlsYWJlbHZhbHVl";
    assert_empty(&gw.post(path, UTF8_BODY), 200);
    let resp = gw.request("GET", "/metrics", &[("Accept", ALLOW_UTF8)], b"");
    let utf8_line = r#"{"another.metric","dotted.label.name"="mylabelvalue",instance="testinstance",job="test/job"} 42"#;
    assert!(
        resp.text().lines().any(|l| l == utf8_line),
        "{}",
        resp.text()
    );
    assert_empty(&gw.delete(path), 202);
    gw.wait_for_lines(&[]);
}

// Case 18 (pushgate: upstream stores the poison pill group, §16 #1).
#[test]
fn case_18_non_utf8_job_is_rejected_before_the_store() {
    if util::skip_on_upstream("pushgate only: non-UTF-8 grouping values rejected (spec §16 #1)") {
        return;
    }
    let gw = Gateway::start(&[]);
    let resp = gw.post("/metrics/job/%FF", b"m 1\n");
    assert_text_error(
        &resp,
        400,
        r#"label value for "job" in URL path is not valid UTF-8"#,
    );
    assert_eq!(gw.api_metrics(), EMPTY_API);
    assert_empty(&gw.post("/metrics/job/ok", b"m 1\n"), 200);
    assert_eq!(gw.get("/metrics").status, 200);
}

// A sign is not a hex digit: `%+f` is a malformed escape, as Go's net/url
// says, not the byte 0x0f.
#[test]
fn signed_percent_escape_is_refused_before_the_store() {
    let gw = Gateway::start(&[]);
    let resp = gw.put("/metrics/job/a%+f", b"m 1\n");
    assert_eq!(resp.status, 400, "{}", resp.text());
    if !util::upstream() {
        assert_text_error(&resp, 400, r#"invalid URL escape "%+f""#);
    }
    assert_eq!(gw.api_metrics(), EMPTY_API);
    assert_empty(&gw.put("/metrics/job/a%0f", b"m 1\n"), 200);
}

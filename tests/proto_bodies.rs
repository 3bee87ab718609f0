//! Protobuf and snappy request bodies and the protobuf scrape (§4.1, §4.3,
//! §4.4, §7.1, §8.3; checklist cases 17 (V5), 23, 25, 39 and 44). Vectors
//! V1–V5 are Appendix A of docs/spec.md.

use crate::util::{
    self, assert_empty, assert_lines, gauges, hex, lines, pb_bytes, pb_delimited, pb_doubles,
    pb_fields, pb_uint, Gateway, PROTO_CONTENT_TYPE,
};

const V1: &str = "1c0a0b736f6d655f6d65747269631803220b2a09095839b4c876bef33f1f0a0e616e6f746865725f6d65747269631803220b2a09091f85eb51b81e09408c010a10686973746f6772616d5f6d6574726963180422763a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
const V2: &str = "160a036d66311802220d220b0800110000000000000000aa030a036d6668180422490a200a0774657374696e671215696e7420636c617373696320686973746f6772616d3a250814111f85eb51b8ce58401a0b0803110000000080840e411a0b0811110000000080841e4122600a220a0774657374696e671217666c6f617420636c617373696320686973746f6772616d3a3a210000000000003440111f85eb51b8ce58401a12210000000000000840110000000080840e411a12210000000000003140110000000080841e4122580a1f0a0774657374696e671214696e74206e617469766520686973746f6772616d3a350814111f85eb51b8ce584028024a04080010024a0408001002500050045003500062040800100262040800100268006804680368002299010a210a0774657374696e671216666c6f6174206e617469766520686973746f6772616d3a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
const V3: &str = "ff060000734e6150705901150000d0e78610736f6d655f6d657472696320332e31340a";
const V4: &str = "ff060000734e6150705900170000d0e786101140736f6d655f6d657472696320332e31340a";
const V5: &str = "1c0a0b736f6d652e6d65747269631803220b2a09095839b4c876bef33f";

const PROTO_REQUEST_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn post_proto(gw: &Gateway, path: &str, vector: &str) -> util::Resp {
    gw.request(
        "POST",
        path,
        &[("Content-Type", PROTO_REQUEST_TYPE)],
        &hex(vector),
    )
}

// Case 17, V5 with --push.enable-utf8-names.
#[test]
fn case_17_protobuf_utf8_family_with_flag() {
    if util::skip_on_upstream("upstream 1.5.1 predates --push.enable-utf8-names") {
        return;
    }
    let gw = Gateway::start(&["--push.enable-utf8-names"]);
    assert_empty(&post_proto(&gw, "/metrics/job/testjob", V5), 200);
    let accept = [("Accept", "text/plain;version=0.0.4;escaping=allow-utf-8")];
    let text = gw.request("GET", "/metrics", &accept, b"").text();
    let line = r#"{"some.metric",instance="",job="testjob"} 1.234"#;
    assert!(text.lines().any(|l| l == line), "{text}");
}

// Case 17, V5 without the flag (pushgate: protobuf names are validated,
// §4.3; upstream accepts them).
#[test]
fn case_17_protobuf_utf8_family_without_flag_is_400() {
    if util::skip_on_upstream(
        "pushgate only: protobuf names validated, upstream accepts them (spec §4.3)",
    ) {
        return;
    }
    let gw = Gateway::start(&[]);
    let resp = post_proto(&gw, "/metrics/job/testjob", V5);
    assert_eq!(resp.status, 400, "body: {}", resp.text());
    assert!(gw.scrape_lines().is_empty(), "store untouched");
}

// Case 23 (TestPush, protobuf with a native float histogram).
#[test]
fn case_23_protobuf_push_with_native_float_histogram() {
    let gw = Gateway::start(&[]);
    let resp = post_proto(&gw, "/metrics/job/testjob/instance/testinstance", V1);
    assert_empty(&resp, 200);
    let labels = r#"{instance="testinstance",job="testjob"}"#;
    let mut expected = lines(&[&[
        "# TYPE another_metric untyped",
        &format!("another_metric{labels} 3.14"),
        "# TYPE histogram_metric histogram",
        r#"histogram_metric_bucket{instance="testinstance",job="testjob",le="+Inf"} 20"#,
        &format!("histogram_metric_sum{labels} 99.23"),
        &format!("histogram_metric_count{labels} 20"),
    ]]);
    expected.extend(gauges(&[(labels, "0", "<t>")]));
    expected.extend(lines(&[&[
        "# TYPE some_metric untyped",
        &format!("some_metric{labels} 1.234"),
    ]]));
    let actual = gw.scrape_lines();
    if util::upstream() {
        // Upstream prints float histogram counts as 0 (§16 #8).
        let count_free = |l: &&String| !l.starts_with("histogram_metric_");
        let a: Vec<String> = actual.iter().filter(count_free).cloned().collect();
        let e: Vec<String> = expected.iter().filter(count_free).cloned().collect();
        assert_lines(&a, &e);
    } else {
        assert_lines(&actual, &expected);
    }
}

/// The families of a protobuf scrape, by name.
fn proto_scrape(gw: &Gateway) -> Vec<(String, Vec<u8>)> {
    let accept = [(
        "Accept",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    )];
    let resp = gw.request("GET", "/metrics", &accept, b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(PROTO_CONTENT_TYPE).as_str())
    );
    pb_delimited(&resp.body)
        .into_iter()
        .map(|family| {
            let fields = pb_fields(family);
            let name = pb_bytes(&fields, 1).first().copied().unwrap_or_default();
            (String::from_utf8_lossy(name).into_owned(), family.to_vec())
        })
        .collect()
}

/// The `(offset, length)` pairs of BucketSpan messages.
fn spans(messages: &[&[u8]]) -> Vec<(i64, u64)> {
    messages
        .iter()
        .map(|span| {
            let fields = pb_fields(span);
            let zigzag = pb_uint(&fields, 1).unwrap_or(0);
            let offset = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
            (offset, pb_uint(&fields, 2).unwrap_or(0))
        })
        .collect()
}

// Case 23: the protobuf scrape returns the native histogram unchanged.
#[test]
fn case_23_protobuf_scrape_keeps_native_histogram() {
    let gw = Gateway::start(&[]);
    let resp = post_proto(&gw, "/metrics/job/testjob/instance/testinstance", V1);
    assert_empty(&resp, 200);
    let families = proto_scrape(&gw);
    let (_, family) = families
        .iter()
        .find(|(name, _)| name == "histogram_metric")
        .expect("histogram_metric in the protobuf scrape");
    let family_fields = pb_fields(family);
    let metrics = pb_bytes(&family_fields, 4);
    assert_eq!(metrics.len(), 1);
    let metric_fields = pb_fields(metrics[0]);
    let histogram = pb_fields(pb_bytes(&metric_fields, 7)[0]);
    assert_eq!(pb_uint(&histogram, 5), Some(2), "schema 1 (zigzag 2)");
    assert_eq!(
        spans(&pb_bytes(&histogram, 9)),
        vec![(0, 2), (0, 2)],
        "negative spans"
    );
    assert_eq!(
        spans(&pb_bytes(&histogram, 12)),
        vec![(0, 2), (0, 2)],
        "positive spans"
    );
    assert_eq!(
        pb_doubles(&histogram, 11),
        vec![2.0, 2.0, -2.0, 0.0],
        "negative counts"
    );
    assert_eq!(
        pb_doubles(&histogram, 14),
        vec![2.0, 2.0, -2.0, 0.0],
        "positive counts"
    );
    assert_eq!(pb_doubles(&histogram, 4), vec![20.0], "sample_count_float");
    assert_eq!(pb_doubles(&histogram, 2), vec![99.23], "sample_sum");
}

fn sn_lines() -> Vec<String> {
    let labels = r#"{instance="",job="sn"}"#;
    let mut expected = gauges(&[(labels, "0", "<t>")]);
    expected.extend(lines(&[&[
        "# TYPE some_metric untyped",
        &format!("some_metric{labels} 3.14"),
    ]]));
    expected
}

// Case 25: framed snappy, uncompressed and compressed chunks.
#[test]
fn case_25_snappy_bodies() {
    if util::skip_on_upstream("upstream 1.5.1 predates snappy request bodies") {
        return;
    }
    for (vector, name) in [(V3, "V3"), (V4, "V4")] {
        let gw = Gateway::start(&[]);
        let snappy = [("Content-Encoding", "snappy")];
        let resp = gw.request("POST", "/metrics/job/sn", &snappy, &hex(vector));
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        assert_lines(&gw.scrape_lines(), &sn_lines());
    }
}

// Case 25: a body that is not framed snappy is a 400.
#[test]
fn case_25_plain_text_as_snappy_is_400() {
    if util::skip_on_upstream("upstream 1.5.1 predates snappy request bodies") {
        return;
    }
    let gw = Gateway::start(&[]);
    let snappy = [("Content-Encoding", "snappy")];
    let resp = gw.request("POST", "/metrics/job/sn", &snappy, b"some_metric 3.14\n");
    assert_eq!(resp.status, 400, "body: {}", resp.text());
    assert!(gw.scrape_lines().is_empty(), "store untouched");
}

// Case 39: protobuf scrape content type and delimited body.
#[test]
fn case_39_protobuf_scrape() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/pb", b"m 1\n"), 200);
    let names: Vec<String> = proto_scrape(&gw).into_iter().map(|(n, _)| n).collect();
    for name in [
        "m",
        "process_open_fds",
        "push_failure_time_seconds",
        "push_time_seconds",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing in {names:?}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "families sorted by name");
}

const LABELS_44: &str = r#""instance":"inst'a\"n\\ce1","job":"Björn""#;

/// One `mfh` metric object of case 44.
fn mfh_metric(buckets: &str, testing: &str) -> String {
    format!(
        r#"{{"buckets":{buckets},"count":"20","labels":{{{LABELS_44},"testing":"{testing}"}},"sum":"99.23"}}"#
    )
}

// Case 44 (TestMetricsAPI): the golden JSON of V2.
#[test]
fn case_44_api_golden_for_v2() {
    let gw = Gateway::start(&[]);
    let path = "/metrics/job@base64/QmrDtnJu/instance@base64/aW5zdCdhIm5cY2Ux";
    assert_empty(&post_proto(&gw, path, V2), 200);
    let json = gw.api_metrics();
    let group_start = format!(
        r#"{{"status":"success","data":[{{"labels":{{{LABELS_44}}},"last_push_successful":true,"mf1":{{"time_stamp":""#
    );
    assert!(json.starts_with(&group_start), "{json}");
    let mf1 = format!(
        r#"","type":"SUMMARY","metrics":[{{"count":"0","labels":{{{LABELS_44}}},"quantiles":{{}},"sum":"0"}}]}},"mfh":{{"time_stamp":""#
    );
    assert!(json.contains(&mf1), "mf1 without help: {json}");
    let classic = r#"{"250000":"3","500000":"17"}"#;
    let int_native = r#"[[1,"-1.414213562373095","-1","2"],[0,"1","1.414213562373095","2"]]"#;
    let float_native = r#"[[1,"-2","-1.414213562373095","-2"],[1,"-1.414213562373095","-1","2"],[1,"-1","-0.7071067811865475","2"],[0,"0.7071067811865475","1","2"],[0,"1","1.414213562373095","2"],[0,"1.414213562373095","2","-2"]]"#;
    let mfh = format!(
        r#"","type":"HISTOGRAM","metrics":[{},{},{},{}]}}"#,
        mfh_metric(classic, "int classic histogram"),
        mfh_metric(classic, "float classic histogram"),
        mfh_metric(int_native, "int native histogram"),
        mfh_metric(float_native, "float native histogram"),
    );
    // Upstream 1.5.1 renders neither native buckets nor float counts in JSON.
    if !util::upstream() {
        assert!(json.contains(&mfh), "mfh: {json}");
    }
    let failure = r#""push_failure_time_seconds":{"time_stamp":""#;
    assert!(json.contains(failure), "{json}");
    let failure_rest = format!(
        r#"","type":"GAUGE","help":"Last Unix time when changing this group in the Pushgateway failed.","metrics":[{{"labels":{{{LABELS_44}}},"value":"0"}}]}}"#
    );
    assert!(json.contains(&failure_rest), "failure gauge: {json}");
    let push_help = r#""type":"GAUGE","help":"Last Unix time when changing this group in the Pushgateway succeeded.""#;
    assert!(json.contains(push_help), "push gauge: {json}");
}

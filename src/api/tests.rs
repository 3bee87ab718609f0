//! Unit tests of the API responses and their JSON rendering.

use std::sync::Arc;

use super::render::{write_metric, write_native_buckets, write_string_map};
use super::*;
use crate::go::format_float;
use crate::histogram as native;
use crate::json::write_string as write_json_string;
use crate::model::{
    Bucket, BucketSpan, Counter, GroupingKey, Histogram, Label, Metric, MetricFamily, MetricType,
    Quantile, Summary, Value, PUSH_FAILURE_TIME_HELP, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_HELP,
    PUSH_TIME_METRIC,
};
use crate::store::TimestampedFamily;

const WRITTEN_AT: i64 = 1_583_872_347_716_605_811;
const TIME_STAMP: &str = "2020-03-10T20:32:27.716605811Z";

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
}

fn metric(pairs: &[(&str, &str)], value: Value) -> Metric {
    Metric {
        labels: labels(pairs),
        value,
        timestamp_ms: None,
    }
}

fn family(name: &str, kind: MetricType, help: Option<&str>, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        help: help.map(str::to_string),
        metrics,
        ..MetricFamily::new(name, kind)
    }
}

fn group(key: &[(&str, &str)], families: Vec<MetricFamily>) -> GroupSnapshot {
    let mut families: Vec<Arc<TimestampedFamily>> = families
        .into_iter()
        .map(|family| Arc::new(TimestampedFamily::new(&family, WRITTEN_AT)))
        .collect();
    families.sort_by(|a, b| a.name().cmp(b.name()));
    GroupSnapshot {
        key: GroupingKey::new(labels(key)),
        families,
        ttl: None,
        expires_at: None,
    }
}

fn push_gauges(series: &[(&str, &str)], push_time: f64, failure_time: f64) -> Vec<MetricFamily> {
    vec![
        family(
            PUSH_TIME_METRIC,
            MetricType::Gauge,
            Some(PUSH_TIME_HELP),
            vec![metric(series, Value::Gauge(push_time))],
        ),
        family(
            PUSH_FAILURE_TIME_METRIC,
            MetricType::Gauge,
            Some(PUSH_FAILURE_TIME_HELP),
            vec![metric(series, Value::Gauge(failure_time))],
        ),
    ]
}

fn body(response: &Response) -> String {
    String::from_utf8(response.body.to_vec()).expect("API bodies are UTF-8")
}

/// The `data` of a metrics response holding exactly one group.
fn group_json(g: GroupSnapshot) -> String {
    let response = metrics(&[g]);
    let text = body(&response);
    let inner = text
        .strip_prefix("{\"status\":\"success\",\"data\":[")
        .and_then(|t| t.strip_suffix("]}"))
        .expect("success envelope around one group");
    inner.to_string()
}

fn assert_cors(response: &Response) {
    for (name, value) in CORS_HEADERS {
        assert_eq!(response.header(name), Some(value), "header {name}");
    }
}

#[test]
fn empty_store_is_an_empty_array() {
    let response = metrics(&[]);
    assert_eq!(response.status, 200);
    assert_eq!(body(&response), r#"{"status":"success","data":[]}"#);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_cors(&response);
}

#[test]
fn options_is_empty_with_cors_headers() {
    let response = options();
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_cors(&response);
}

#[test]
fn api_errors_answer_the_bad_data_envelope() {
    let bad = Selector::parse("job").expect_err("a bare name is no selector");
    let cases = [
            (
                ApiError::NoSelector,
                r#"{"status":"error","errorType":"bad_data","error":"at least one match[] selector is required, e.g. match[]={job=\"batch\"}"}"#.to_string(),
            ),
            (
                ApiError::BadSelector(bad.clone()),
                format!(
                    r#"{{"status":"error","errorType":"bad_data","error":{:?}}}"#,
                    bad.to_string()
                ),
            ),
        ];
    for (err, want) in cases {
        let resp = err.response();
        assert_eq!(resp.status, 400, "{err:?}");
        assert_eq!(resp.header("Content-Type"), Some(APPLICATION_JSON));
        assert_eq!(String::from_utf8_lossy(&resp.body.to_vec()), want);
    }
    let req = crate::http::Request::new(crate::http::Method::Delete, "/api/v1/groups");
    let store = Store::new(vec![], crate::store::CheckMode::Checked, Default::default());
    assert_eq!(delete_groups(&req, &store), ApiError::NoSelector.response());
}

#[test]
fn status_lists_build_information_flags_and_start_time() {
    let response = status(&Config::default(), WRITTEN_AT);
    assert_eq!(response.status, 200);
    assert_cors(&response);
    let text = body(&response);
    let info = telemetry::build_info();
    let mut want = String::from(r#"{"status":"success","data":{"build_information":"#);
    write_string_map(&mut want, build_information());
    want.push_str(r#","flags":"#);
    write_string_map(&mut want, Config::default().flag_values());
    want.push_str(&format!(r#","start_time":"{TIME_STAMP}"}}}}"#));
    assert_eq!(text, want);
    assert!(text.contains(&format!(r#""version":"{}""#, info.version)));
    for key in [
        "branch",
        "buildDate",
        "buildUser",
        "goVersion",
        "revision",
        "version",
    ] {
        assert!(
            text.contains(&format!(r#""{key}":"#)),
            "missing {key} in {text}"
        );
    }
}

#[test]
fn json_strings_escape_like_go() {
    let cases: &[(&str, &str)] = &[
        ("plain", r#""plain""#),
        (
            "<a href=\"x\">&</a>",
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#,
        ),
        ("a\\b", r#""a\\b""#),
        ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
        ("\u{1}\u{1f}\u{7f}", "\"\\u0001\\u001f\u{7f}\""),
        ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
        ("Björn ✓", "\"Björn ✓\""),
    ];
    for (input, want) in cases {
        let mut out = String::new();
        write_json_string(&mut out, input);
        assert_eq!(out, *want, "escaping {input:?}");
    }
}

#[test]
fn string_maps_sort_keys_bytewise_and_keep_the_last_duplicate() {
    let mut out = String::new();
    write_string_map(
        &mut out,
        [("b", "1"), ("B", "2"), ("a", "3"), ("b", "4"), ("é", "5")],
    );
    assert_eq!(out, r#"{"B":"2","a":"3","b":"4","é":"5"}"#);
}

/// Checklist case 44: vector V2 pushed to
/// `/metrics/job@base64/QmrDtnJu/instance@base64/aW5zdCdhIm5cY2Ux`,
/// with the model values built by hand.
#[test]
fn golden_group_of_case_44() {
    let key = [("instance", "inst'a\"n\\ce1"), ("job", "Björn")];
    let with_testing = |testing: &'static str| {
        let mut pairs = key.to_vec();
        pairs.push(("testing", testing));
        pairs
    };
    let classic_buckets = |float: bool| {
        [(3u64, 250000.0), (17, 500000.0)]
            .iter()
            .map(|&(count, upper_bound)| Bucket {
                cumulative_count: (!float).then_some(count),
                cumulative_count_float: float.then_some(count as f64),
                upper_bound,
                exemplar: None,
            })
            .collect::<Vec<_>>()
    };
    let spans = vec![
        BucketSpan {
            offset: 0,
            length: 2
        };
        2
    ];
    let int_classic = Histogram {
        sample_count: Some(20),
        sample_sum: Some(99.23),
        buckets: classic_buckets(false),
        ..Histogram::default()
    };
    let float_classic = Histogram {
        sample_count_float: Some(20.0),
        sample_sum: Some(99.23),
        buckets: classic_buckets(true),
        ..Histogram::default()
    };
    let int_native = Histogram {
        sample_count: Some(20),
        sample_sum: Some(99.23),
        schema: Some(1),
        negative_spans: spans.clone(),
        negative_deltas: vec![0, 2, -2, 0],
        positive_spans: spans.clone(),
        positive_deltas: vec![0, 2, -2, 0],
        ..Histogram::default()
    };
    let float_native = Histogram {
        sample_count_float: Some(20.0),
        sample_sum: Some(99.23),
        schema: Some(1),
        negative_spans: spans.clone(),
        negative_counts: vec![2.0, 2.0, -2.0, 0.0],
        positive_spans: spans,
        positive_counts: vec![2.0, 2.0, -2.0, 0.0],
        ..Histogram::default()
    };
    let mut families = vec![
        family(
            "mf1",
            MetricType::Summary,
            None,
            vec![metric(&key, Value::Summary(Summary::default()))],
        ),
        family(
            "mfh",
            MetricType::Histogram,
            None,
            vec![
                metric(
                    &with_testing("int classic histogram"),
                    Value::Histogram(Box::new(int_classic)),
                ),
                metric(
                    &with_testing("float classic histogram"),
                    Value::Histogram(Box::new(float_classic)),
                ),
                metric(
                    &with_testing("int native histogram"),
                    Value::Histogram(Box::new(int_native)),
                ),
                metric(
                    &with_testing("float native histogram"),
                    Value::Histogram(Box::new(float_native)),
                ),
            ],
        ),
    ];
    families.extend(push_gauges(&key, 1583872347.7166057, 0.0));

    let labels = r#"{"instance":"inst'a\"n\\ce1","job":"Björn"}"#;
    let mfh_metric = |testing: &str, buckets: &str| {
        format!(
            r#"{{"buckets":{buckets},"count":"20","labels":{{"instance":"inst'a\"n\\ce1","job":"Björn","testing":"{testing}"}},"sum":"99.23"}}"#
        )
    };
    let classic = r#"{"250000":"3","500000":"17"}"#;
    let want = [
            format!(r#"{{"labels":{labels},"last_push_successful":true,"#),
            format!(
                r#""mf1":{{"time_stamp":"{TIME_STAMP}","type":"SUMMARY","metrics":[{{"count":"0","labels":{labels},"quantiles":{{}},"sum":"0"}}]}},"#
            ),
            format!(r#""mfh":{{"time_stamp":"{TIME_STAMP}","type":"HISTOGRAM","metrics":["#),
            mfh_metric("int classic histogram", classic),
            ",".to_string(),
            mfh_metric("float classic histogram", classic),
            ",".to_string(),
            mfh_metric(
                "int native histogram",
                r#"[[1,"-1.414213562373095","-1","2"],[0,"1","1.414213562373095","2"]]"#,
            ),
            ",".to_string(),
            mfh_metric(
                "float native histogram",
                r#"[[1,"-2","-1.414213562373095","-2"],[1,"-1.414213562373095","-1","2"],[1,"-1","-0.7071067811865475","2"],[0,"0.7071067811865475","1","2"],[0,"1","1.414213562373095","2"],[0,"1.414213562373095","2","-2"]]"#,
            ),
            "]},".to_string(),
            format!(
                r#""push_failure_time_seconds":{{"time_stamp":"{TIME_STAMP}","type":"GAUGE","help":"{PUSH_FAILURE_TIME_HELP}","metrics":[{{"labels":{labels},"value":"0"}}]}},"#
            ),
            format!(
                r#""push_time_seconds":{{"time_stamp":"{TIME_STAMP}","type":"GAUGE","help":"{PUSH_TIME_HELP}","metrics":[{{"labels":{labels},"value":"1.5838723477166057e+09"}}]}}}}"#
            ),
        ]
        .concat();
    assert_eq!(group_json(group(&key, families)), want);
}

#[test]
fn group_keys_sort_with_family_names_and_reserved_names_are_left_out() {
    let g = group(
        &[("job", "j")],
        vec![
            family(
                "labels",
                MetricType::Gauge,
                None,
                vec![metric(&[], Value::Gauge(1.0))],
            ),
            family(
                "lan",
                MetricType::Gauge,
                None,
                vec![metric(&[], Value::Gauge(2.0))],
            ),
            family(
                "a",
                MetricType::Gauge,
                None,
                vec![metric(&[], Value::Gauge(3.0))],
            ),
            family(
                "last_push_successful",
                MetricType::Gauge,
                None,
                vec![metric(&[], Value::Gauge(4.0))],
            ),
        ],
    );
    let json = group_json(g);
    let positions: Vec<usize> = [
        r#""a":"#,
        r#""labels":"#,
        r#""lan":"#,
        r#""last_push_successful":"#,
    ]
    .iter()
    .map(|k| {
        json.find(k)
            .unwrap_or_else(|| panic!("{k} missing in {json}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "order in {json}");
    // The group key plus the two kept families' series.
    assert_eq!(json.matches(r#""labels":"#).count(), 3, "{json}");
    assert!(
        !json.contains(r#""value":"1""#) && !json.contains(r#""value":"4""#),
        "{json}"
    );
    assert!(json.contains(r#""last_push_successful":true"#), "{json}");
}

#[test]
fn failed_last_push_is_reported() {
    let series = [("instance", ""), ("job", "j")];
    let g = group(&[("job", "j")], push_gauges(&series, 0.0, 1.5e9));
    assert!(group_json(g).contains(r#""last_push_successful":false"#));
}

#[test]
fn help_is_omitted_when_absent_or_empty() {
    for help in [None, Some("")] {
        let g = group(
            &[("job", "j")],
            vec![family("m", MetricType::Counter, help, vec![])],
        );
        assert!(
            group_json(g).contains(&format!(
                r#""m":{{"time_stamp":"{TIME_STAMP}","type":"COUNTER","metrics":[]}}"#
            )),
            "help {help:?}"
        );
    }
}

fn metric_json(kind: MetricType, value: Value) -> String {
    let mut out = String::new();
    write_metric(&mut out, &metric(&[("job", "j")], value), kind);
    out
}

#[test]
fn metrics_render_the_fields_of_their_value() {
    let summary = Summary {
        sample_count: 1_000_000,
        sample_sum: -0.0,
        quantiles: vec![
            Quantile {
                quantile: 0.9,
                value: 1e21,
            },
            Quantile {
                quantile: 0.5,
                value: f64::NAN,
            },
        ],
        created: None,
    };
    let counter = Counter {
        value: 1e-5,
        ..Counter::default()
    };
    let cases: &[(&str, MetricType, Value, &str)] = &[
        (
            "gauge",
            MetricType::Gauge,
            Value::Gauge(-0.0),
            r#"{"labels":{"job":"j"},"value":"-0"}"#,
        ),
        (
            "counter",
            MetricType::Counter,
            Value::Counter(counter),
            r#"{"labels":{"job":"j"},"value":"1e-05"}"#,
        ),
        (
            "untyped",
            MetricType::Untyped,
            Value::Untyped(f64::INFINITY),
            r#"{"labels":{"job":"j"},"value":"+Inf"}"#,
        ),
        (
            "summary",
            MetricType::Summary,
            Value::Summary(summary),
            r#"{"count":"1000000","labels":{"job":"j"},"quantiles":{"0.5":"NaN","0.9":"1e+21"},"sum":"-0"}"#,
        ),
        (
            "gauge value in a summary family",
            MetricType::Summary,
            Value::Gauge(2.0),
            r#"{"labels":{"job":"j"},"value":"2"}"#,
        ),
        (
            "missing value, gauge",
            MetricType::Gauge,
            Value::Missing,
            r#"{"labels":{"job":"j"},"value":"0"}"#,
        ),
        (
            "missing value, summary",
            MetricType::Summary,
            Value::Missing,
            r#"{"count":"0","labels":{"job":"j"},"quantiles":{},"sum":"0"}"#,
        ),
        (
            "missing value, gauge histogram",
            MetricType::GaugeHistogram,
            Value::Missing,
            r#"{"buckets":{},"count":"0","labels":{"job":"j"},"sum":"0"}"#,
        ),
    ];
    for (name, kind, value, want) in cases {
        assert_eq!(metric_json(*kind, value.clone()), *want, "{name}");
    }
}

#[test]
fn classic_histogram_counts_print_integers_unless_float() {
    let h = Histogram {
        sample_count: Some(1_000_000),
        sample_sum: Some(1.5),
        buckets: vec![
            Bucket {
                cumulative_count: Some(1_000_000),
                upper_bound: f64::INFINITY,
                ..Bucket::default()
            },
            Bucket {
                cumulative_count: Some(7),
                cumulative_count_float: Some(2_000_000.0),
                upper_bound: 0.25,
                ..Bucket::default()
            },
        ],
        ..Histogram::default()
    };
    assert_eq!(
        metric_json(MetricType::GaugeHistogram, Value::Histogram(Box::new(h))),
        r#"{"buckets":{"+Inf":"1000000","0.25":"2e+06"},"count":"1000000","labels":{"job":"j"},"sum":"1.5"}"#
    );
}

#[test]
fn native_zero_bucket_is_closed_and_shown_only_when_not_empty() {
    let h = Histogram {
        sample_count: Some(3),
        schema: Some(0),
        zero_threshold: Some(0.0),
        zero_count: Some(3),
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_deltas: vec![0],
        ..Histogram::default()
    };
    assert_eq!(
        native::buckets(&h),
        vec![native::Bucket {
            rule: 3,
            lower: -0.0,
            upper: 0.0,
            count: "3".to_string()
        }]
    );
    let mut out = String::new();
    write_native_buckets(&mut out, &native::buckets(&h));
    assert_eq!(out, r#"[[3,"-0","0","3"]]"#);

    let empty_zero = Histogram {
        zero_count: Some(0),
        ..h
    };
    assert!(native::buckets(&empty_zero).is_empty());
}

#[test]
fn native_float_zero_bucket_uses_the_float_count() {
    let h = Histogram {
        zero_threshold: Some(1e-128),
        zero_count_float: Some(2.5),
        negative_spans: vec![BucketSpan {
            offset: -2,
            length: 1,
        }],
        negative_counts: vec![1.0],
        ..Histogram::default()
    };
    let mut out = String::new();
    write_native_buckets(&mut out, &native::buckets(&h));
    assert_eq!(
        out,
        r#"[[1,"-0.25","-0.125","1"],[3,"-1e-128","1e-128","2.5"]]"#
    );
    assert_eq!(native::count(&h), "0");
}

#[test]
fn native_span_offsets_after_the_first_are_gaps() {
    let h = Histogram {
        sample_count: Some(3),
        schema: Some(0),
        positive_spans: vec![
            BucketSpan {
                offset: 1,
                length: 1,
            },
            BucketSpan {
                offset: 2,
                length: 1,
            },
        ],
        positive_deltas: vec![1, 1],
        ..Histogram::default()
    };
    let mut out = String::new();
    write_native_buckets(&mut out, &native::buckets(&h));
    // Index 1 is (1,2]; a gap of 2 puts the next at index 4, (8,16].
    assert_eq!(out, r#"[[0,"1","2","1"],[0,"8","16","2"]]"#);
}

#[test]
fn native_spans_longer_than_the_counts_stop_at_the_last_count() {
    let h = Histogram {
        sample_count: Some(1),
        schema: Some(3),
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: u32::MAX,
        }],
        positive_deltas: vec![1],
        ..Histogram::default()
    };
    assert_eq!(native::buckets(&h).len(), 1);
}

#[test]
fn native_bucket_bounds() {
    let cases: &[(i64, i32, f64)] = &[
        (0, 0, 1.0),
        (1, 0, 2.0),
        (-1, 0, 0.5),
        (1, 1, 2.0 * 0.7071067811865475),
        (-1, 1, 0.7071067811865475),
        (3, 2, 1.6817928305074288),
        (1, -1, 4.0),
        (-2, -2, 1.0 / 256.0),
        (1024, 0, f64::MAX),
        (1025, 0, f64::INFINITY),
        (256, -2, f64::MAX),
        (-1074, 0, 5e-324),
        (-1076, 0, 0.0),
    ];
    for &(index, schema, want) in cases {
        assert_eq!(
            native::upper_bound(index, schema),
            want,
            "index {index}, schema {schema}"
        );
    }
    assert_eq!(format_float(native::upper_bound(1, 1)), "1.414213562373095");
}

#[test]
fn native_bounds_beyond_the_table_do_not_panic() {
    assert!(native::upper_bound(1, 9) > 1.0);
    assert!(native::upper_bound(i64::from(i32::MAX), i32::MAX).is_finite());
    assert_eq!(native::upper_bound(-5, i32::MIN), 0.0);
    assert_eq!(native::upper_bound(5, i32::MIN), f64::INFINITY);
}

#[test]
fn fraction_table_entries_are_close_to_their_powers_of_two() {
    for (k, &frac) in native::fractions().iter().enumerate() {
        let exact = (k as f64 / 256.0 - 1.0).exp2();
        let ulps = ((frac - exact) / f64::EPSILON).abs();
        assert!(ulps <= 3.0, "entry {k}: {frac} is {ulps} ulps from {exact}");
    }
}

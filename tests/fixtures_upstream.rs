//! Fixtures captured from the real upstream Pushgateway (tests/fixtures/, made by
//! scripts/test/capture-fixtures.sh; §7, §8): upstream's protobuf scrape
//! of a store holding every metric type (V1, V2 and a text body) is pushed back into a
//! gateway group by group, and its protobuf and text expositions of those families must
//! equal upstream's, up to the documented differences. Upstream's own and push-time
//! families are filtered out here; the fixture files stay exactly as captured.

use std::collections::BTreeMap;

use crate::util::{
    self, pb_bytes, pb_delimited, pb_fields, Gateway, FLOAT_HISTOGRAM_COUNTS, PROTO_CONTENT_TYPE,
};

const UPSTREAM_PROTO_SCRAPE: &[u8] = include_bytes!("fixtures/upstream-scrape.pb");
const UPSTREAM_TEXT_SCRAPE: &str = include_str!("fixtures/upstream-scrape.txt");
const PROTO_ACCEPT: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// True for families the fixture's pushers sent, false for upstream's own metrics
/// and the push-time gauges (whose values are times of the capture).
fn is_pushed_family(name: &str) -> bool {
    let own = ["go_", "process_", "pushgateway_", "pushgate_", "promhttp_"];
    let managed = ["push_time_seconds", "push_failure_time_seconds"];
    !own.iter().any(|prefix| name.starts_with(prefix)) && !managed.contains(&name)
}

/// The pushed families of a delimited protobuf scrape, as (name, message bytes).
fn pushed_frames(scrape: &[u8]) -> Vec<(String, &[u8])> {
    pb_delimited(scrape)
        .into_iter()
        .map(|frame| (family_name(frame), frame))
        .filter(|(name, _)| is_pushed_family(name))
        .collect()
}

fn family_name(frame: &[u8]) -> String {
    let fields = pb_fields(frame);
    let name = pb_bytes(&fields, 1);
    String::from_utf8(name.first().expect("family has a name").to_vec()).expect("UTF-8 name")
}

/// The `instance` label of the family's first metric: the group it was pushed to.
fn instance_of(frame: &[u8]) -> String {
    let fields = pb_fields(frame);
    let metric = pb_fields(pb_bytes(&fields, 4)[0]);
    for pair in pb_bytes(&metric, 1) {
        let pair = pb_fields(pair);
        if pb_bytes(&pair, 1) == [b"instance"] {
            return String::from_utf8(pb_bytes(&pair, 2)[0].to_vec()).expect("UTF-8 value");
        }
    }
    panic!("family {} has no instance label", family_name(frame));
}

/// Varint length prefix plus message, as in a delimited body.
fn delimited(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut len = frame.len() as u64;
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(frame);
    out
}

/// Pushes every captured family back into the group it came from (job "fixture").
fn push_fixture(gw: &Gateway) {
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (_, frame) in pushed_frames(UPSTREAM_PROTO_SCRAPE) {
        let body = bodies.entry(instance_of(frame)).or_default();
        body.extend(delimited(frame));
    }
    assert_eq!(bodies.len(), 3, "groups v1, v2 and text in the fixture");
    for (instance, body) in &bodies {
        let path = format!("/metrics/job/fixture/instance/{instance}");
        let headers = [("Content-Type", PROTO_CONTENT_TYPE)];
        let resp = gw.request("PUT", &path, &headers, body);
        assert_eq!(resp.status, 200, "PUT {path}: {}", resp.text());
    }
}

/// A protobuf message read without its schema: nested messages recursively, doubles
/// with every NaN made one NaN (upstream writes Go's NaN bits, 0x7ff8000000000001).
#[derive(Debug, PartialEq)]
enum Wire {
    Varint(u64),
    Double(u64),
    Fixed32(u32),
    Bytes(Vec<u8>),
    Message(Vec<(u32, Wire)>),
}

/// Parses `data` as a message; None if it is not one (then it is a string or bytes).
fn wire_tree(mut data: &[u8]) -> Option<Vec<(u32, Wire)>> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let key = read_varint(&mut data)?;
        let number = u32::try_from(key >> 3).ok().filter(|n| *n > 0)?;
        let value = match key & 7 {
            0 => Wire::Varint(read_varint(&mut data)?),
            1 => Wire::Double(canonical_nan(u64::from_le_bytes(
                take(&mut data, 8)?.try_into().ok()?,
            ))),
            2 => {
                let len = usize::try_from(read_varint(&mut data)?).ok()?;
                let bytes = take(&mut data, len)?;
                match wire_tree(bytes) {
                    Some(tree) if !bytes.is_empty() => Wire::Message(tree),
                    _ => Wire::Bytes(bytes.to_vec()),
                }
            }
            5 => Wire::Fixed32(u32::from_le_bytes(take(&mut data, 4)?.try_into().ok()?)),
            _ => return None,
        };
        fields.push((number, value));
    }
    Some(fields)
}

fn canonical_nan(bits: u64) -> u64 {
    if f64::from_bits(bits).is_nan() {
        f64::NAN.to_bits()
    } else {
        bits
    }
}

fn take<'a>(data: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if data.len() < len {
        return None;
    }
    let (head, rest) = data.split_at(len);
    *data = rest;
    Some(head)
}

fn read_varint(data: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = data.split_first()?;
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The HELP, TYPE and sample lines of the pushed families of a text exposition.
fn pushed_text_lines(text: &str) -> Vec<String> {
    let mut family = String::new();
    let mut kept = Vec::new();
    for line in text.lines() {
        let header = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "));
        if let Some(rest) = header {
            family = rest.split(' ').next().unwrap_or_default().to_string();
        }
        if is_pushed_family(&family) {
            kept.push(line.to_string());
        }
    }
    kept
}

/// Upstream's text lines with its documented defects replaced by pushgate's output.
fn expected_text_lines() -> Vec<String> {
    let upstream_lines = pushed_text_lines(UPSTREAM_TEXT_SCRAPE);
    if util::upstream() {
        return upstream_lines;
    }
    upstream_lines
        .into_iter()
        .map(
            |line| match FLOAT_HISTOGRAM_COUNTS.iter().find(|(up, _)| *up == line) {
                Some((_, ours)) => ours.to_string(),
                None => line,
            },
        )
        .collect()
}

#[test]
fn fixture_holds_every_metric_type() {
    let names: Vec<String> = pushed_frames(UPSTREAM_PROTO_SCRAPE)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let want = [
        "another_metric",
        "fx_latency_seconds",
        "fx_payload_bytes",
        "fx_requests_total",
        "fx_temperature_celsius",
        "fx_untyped",
        "fx_without_type_line",
        "histogram_metric",
        "mf1",
        "mfh",
        "some_metric",
    ];
    assert_eq!(names, want);
    let applied = FLOAT_HISTOGRAM_COUNTS
        .iter()
        .filter(|(up, _)| UPSTREAM_TEXT_SCRAPE.lines().any(|l| l == *up))
        .count();
    assert_eq!(
        applied,
        FLOAT_HISTOGRAM_COUNTS.len(),
        "every substitution matches a line"
    );
}

// A round trip: pushgate decodes upstream's output into its own model and encodes it
// again, so any field it drops, reorders or re-encodes differently shows up here.
#[test]
fn protobuf_exposition_matches_upstream_capture() {
    let gw = Gateway::start(&[]);
    push_fixture(&gw);
    let resp = gw.request("GET", "/metrics", &[("Accept", PROTO_ACCEPT)], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some(util::scrape_content_type(PROTO_CONTENT_TYPE).as_str())
    );
    let ours = pushed_frames(&resp.body);
    let theirs = pushed_frames(UPSTREAM_PROTO_SCRAPE);
    let names = |frames: &[(String, &[u8])]| frames.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs), "families and their order");
    for ((name, our_frame), (_, their_frame)) in ours.iter().zip(&theirs) {
        assert_eq!(
            wire_tree(our_frame).expect("pushgate sent a protobuf message"),
            wire_tree(their_frame).expect("the fixture holds protobuf messages"),
            "family {name}\nours:     {}\nupstream: {}",
            to_hex(our_frame),
            to_hex(their_frame)
        );
    }
}

#[test]
fn text_exposition_matches_upstream_capture() {
    let gw = Gateway::start(&[]);
    push_fixture(&gw);
    let resp = gw.get("/metrics");
    assert_eq!(resp.status, 200);
    util::assert_lines(&pushed_text_lines(&resp.text()), &expected_text_lines());
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

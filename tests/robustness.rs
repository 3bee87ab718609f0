//! Hostile push bodies against the real binary (§4, §17.4): truncated
//! and mutated protobuf, corrupt gzip and snappy, random bytes, bombs and
//! oversized bodies, each to a fresh group. Every answer must be 200, 400 or
//! 413, the process must survive, and a refused body must leave
//! `/api/v1/metrics` byte-identical. A fixed seed keeps failures repeatable;
//! the parsers' open-ended search lives in `fuzz/` (`scripts/test/fuzz.sh`).

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::util::{gzip, hex, skip_on_upstream, Gateway, PROTO_CONTENT_TYPE};

/// Appendix A vectors V1, V2 and V5 (delimited protobuf).
const V1: &str = "1c0a0b736f6d655f6d65747269631803220b2a09095839b4c876bef33f1f0a0e616e6f746865725f6d65747269631803220b2a09091f85eb51b81e09408c010a10686973746f6772616d5f6d6574726963180422763a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
const V2: &str = "160a036d66311802220d220b0800110000000000000000aa030a036d6668180422490a200a0774657374696e671215696e7420636c617373696320686973746f6772616d3a250814111f85eb51b8ce58401a0b0803110000000080840e411a0b0811110000000080841e4122600a220a0774657374696e671217666c6f617420636c617373696320686973746f6772616d3a3a210000000000003440111f85eb51b8ce58401a12210000000000000840110000000080840e411a12210000000000003140110000000080841e4122580a1f0a0774657374696e671214696e74206e617469766520686973746f6772616d3a350814111f85eb51b8ce584028024a04080010024a0408001002500050045003500062040800100262040800100268006804680368002299010a210a0774657374696e671216666c6f6174206e617469766520686973746f6772616d3a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
const V5: &str = "1c0a0b736f6d652e6d65747269631803220b2a09095839b4c876bef33f";
/// Appendix A vectors V3 and V4 (framed snappy of `some_metric 3.14\n`).
const V3: &str = "ff060000734e6150705901150000d0e78610736f6d655f6d657472696320332e31340a";
const V4: &str = "ff060000734e6150705900170000d0e786101140736f6d655f6d657472696320332e31340a";

const TEXT: &[u8] =
    b"# HELP t Text.\n# TYPE t summary\nt{quantile=\"0.5\"} 1\nt_sum 2\nt_count 3\n";
const LIMIT: usize = 64 * 1024;
const CASES: usize = 300;
const SEED: u64 = 0x5eed_f00d_cafe_d00d;
/// The whole run must stay well inside the suite's patience.
const TIME_BUDGET: Duration = Duration::from_secs(30);
/// Prefix of a 400 for a body that decoded but was refused by the store,
/// which records the failure in the group's gauge (§5.3).
const REJECTED_PREFIX: &str = "pushed metrics are invalid or inconsistent with existing metrics";

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One hostile request: its body and the headers that route it to a decoder.
struct Case {
    what: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    content_encoding: Option<&'static str>,
}

fn proto(what: &'static str, body: Vec<u8>) -> Case {
    Case {
        what,
        body,
        content_type: Some(PROTO_CONTENT_TYPE),
        content_encoding: None,
    }
}

fn encoded(what: &'static str, body: Vec<u8>, encoding: &'static str, is_proto: bool) -> Case {
    Case {
        what,
        body,
        content_type: is_proto.then_some(PROTO_CONTENT_TYPE),
        content_encoding: Some(encoding),
    }
}

fn truncate(rng: &mut Rng, mut data: Vec<u8>) -> Vec<u8> {
    data.truncate(rng.below(data.len()));
    data
}

/// Overwrites, inserts or deletes a few bytes.
fn mutate(rng: &mut Rng, mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len().max(1));
        match rng.below(3) {
            0 if !data.is_empty() => data[at] = rng.next() as u8,
            1 => data.insert(at.min(data.len()), rng.next() as u8),
            _ if !data.is_empty() => {
                data.remove(at);
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data
}

fn snappy(data: &[u8]) -> Vec<u8> {
    let mut encoder = snap::write::FrameEncoder::new(Vec::new());
    encoder.write_all(data).expect("snappy into memory");
    encoder.into_inner().expect("snappy into memory")
}

fn generate(rng: &mut Rng, i: usize) -> Case {
    let vectors = [hex(V1), hex(V2), hex(V5)];
    let valid = || vectors[i % vectors.len()].clone();
    match rng.below(11) {
        0 => proto("truncated protobuf", truncate(rng, valid())),
        1 | 2 => proto("mutated protobuf", mutate(rng, valid())),
        3 => encoded("truncated gzip", truncate(rng, gzip(TEXT)), "gzip", false),
        4 => encoded(
            "mutated gzip protobuf",
            mutate(rng, gzip(&valid())),
            "gzip",
            true,
        ),
        5 => {
            let v = [hex(V3), hex(V4), snappy(TEXT)][rng.below(3)].clone();
            encoded("mutated snappy", mutate(rng, v), "snappy", false)
        }
        6 => encoded(
            "truncated snappy protobuf",
            truncate(rng, snappy(&valid())),
            "snappy",
            true,
        ),
        7 => {
            let body = rng.bytes(512);
            let headers = [(None, None), (Some(PROTO_CONTENT_TYPE), None)];
            let (content_type, content_encoding) = headers[rng.below(2)];
            Case {
                what: "random bytes",
                body,
                content_type,
                content_encoding,
            }
        }
        8 => encoded("random gzip", rng.bytes(64), "GZIP", false),
        9 => {
            // Well-formed, but refused by the store: a timestamp, or a type
            // that conflicts with the known group's summary `t`.
            let body: &[u8] = [&b"a 1\nb 2 1000\n"[..], b"# TYPE t gauge\nt 1\n"][rng.below(2)];
            encoded("refused by the store", gzip(body), "gzip", false)
        }
        _ => encoded("random snappy", rng.bytes(64), "Snappy", true),
    }
}

/// Bodies that must be refused for their size: 413 and no change.
fn oversized() -> Vec<Case> {
    let zeros = vec![0u8; 4 * LIMIT];
    vec![
        encoded("gzip bomb", gzip(&zeros), "gzip", false),
        encoded("gzip bomb, protobuf", gzip(&zeros), "gzip", true),
        encoded("snappy bomb", snappy(&zeros), "snappy", true),
        proto("raw body over the limit", zeros),
    ]
}

fn send(gw: &Gateway, i: usize, case: &Case) -> crate::util::Resp {
    let mut headers = Vec::new();
    if let Some(t) = case.content_type {
        headers.push(("Content-Type", t));
    }
    if let Some(e) = case.content_encoding {
        headers.push(("Content-Encoding", e));
    }
    let method = if i % 2 == 0 { "PUT" } else { "POST" };
    gw.request(method, &group_path(i), &headers, &case.body)
}

fn group_path(i: usize) -> String {
    format!("/metrics/job/robust/case/{i}")
}

fn describe(i: usize, case: &Case) -> String {
    let hex: String = case.body.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "case {i} ({}), Content-Type {:?}, Content-Encoding {:?}, body {hex}",
        case.what, case.content_type, case.content_encoding
    )
}

/// Checks one answer; returns its status and the store as it must now be.
fn check_answer(gw: &Gateway, i: usize, case: &Case, before: String) -> (u16, String) {
    let resp = send(gw, i, case);
    let text = resp.text();
    let context = || format!("{}: {} {text:?}", describe(i, case), resp.status);
    let after = match resp.status {
        200 => gw.api_metrics(),
        400 if text.starts_with(REJECTED_PREFIX) => {
            // Decoded but refused: only this case's own group may appear,
            // holding the failure gauge. Deleting it must restore the store.
            assert_eq!(gw.delete(&group_path(i)).status, 202, "{}", context());
            gw.wait_for_api(&before);
            before
        }
        400 | 413 => {
            assert!(
                text.ends_with('\n') && text.trim_end().lines().count() == 1,
                "error is not one line: {}",
                context()
            );
            assert_eq!(gw.api_metrics(), before, "store changed: {}", context());
            before
        }
        _ => panic!("unexpected status: {}", context()),
    };
    (resp.status, after)
}

#[test]
fn hostile_bodies_are_refused_without_touching_the_store() {
    if skip_on_upstream("pushgate-only flag --push.max-body-bytes (spec §17.4)") {
        return;
    }
    let started = Instant::now();
    let gw = Gateway::start(&[&format!("--push.max-body-bytes={LIMIT}")]);
    let known = gw.put("/metrics/job/known", TEXT);
    assert_eq!(known.status, 200, "{}", known.text());
    let mut store = gw.api_metrics();
    let mut rng = Rng(SEED);
    let mut refused = 0;
    for i in 0..CASES {
        let case = generate(&mut rng, i);
        let (status, now) = check_answer(&gw, i, &case, store);
        store = now;
        refused += usize::from(status != 200);
        assert!(started.elapsed() < TIME_BUDGET, "too slow at case {i}");
    }
    // Mutations that happen to stay valid are fine, but the run is only
    // worth something if most bodies were hostile.
    assert!(
        refused > CASES / 2,
        "only {refused} of {CASES} bodies refused"
    );
    for (j, case) in oversized().iter().enumerate() {
        let i = CASES + j;
        let resp = send(&gw, i, case);
        assert_eq!(resp.status, 413, "{}: {}", describe(i, case), resp.text());
        assert_eq!(gw.api_metrics(), store, "{} changed the store", case.what);
    }
    assert_eq!(gw.get("/-/healthy").status, 200);
    let scrape = gw.get("/metrics");
    assert_eq!(scrape.status, 200, "{}", scrape.text());
    assert!(scrape
        .text()
        .contains("t_count{instance=\"\",job=\"known\"} 3"));
}

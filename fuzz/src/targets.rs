//! The fuzz targets' bodies as plain functions, one module per target:
//! `fuzz_targets/<name>.rs` hands libFuzzer's input to `<name>(data)`, and
//! the main crate's `cargo test` replays every file of
//! `fuzz/regressions/<name>/` and `fuzz/seeds/<name>/` through the same
//! function (tests/fuzz_regressions.rs includes this file by path).
//!
//! Self-contained on purpose: it uses only `pushgate` and `std`, so it
//! compiles both inside this crate and inside the main crate's test binary.
//! Each function panics when its property fails; that is the crash.

pub use body_decode::{body_decode, HeapProbe};
pub use chunked_decode::chunked_decode;
pub use http_head::http_head;
pub use proto_decode::proto_decode;
pub use push_path::push_path;
pub use shared::{base64url, comparable, render_families};
pub use store_push::store_push;
pub use text_parse::text_parse;
pub use upstream_persistence::upstream_persistence;

/// A target's check: panics when the input breaks its property.
pub type Check = fn(&[u8]);

/// Every target by name, as the directories under `fuzz/regressions/` and
/// `fuzz/seeds/` are named; `body_decode` runs without a heap probe.
pub const TARGETS: [(&str, Check); 8] = [
    ("text_parse", text_parse),
    ("proto_decode", proto_decode),
    ("push_path", push_path),
    ("body_decode", |data| body_decode(data, None)),
    ("store_push", store_push),
    ("http_head", http_head),
    ("chunked_decode", chunked_decode),
    ("upstream_persistence", upstream_persistence),
];

mod http_head {
    // Request heads: never panics; an accepted head is self-delimiting, has
    // a clean target and header values, framing that agrees with its fields,
    // and its end is found by the I/O loop's incremental search.

    use pushgate::server::head::{self, Framing, MAX_HEAD_BYTES};

    pub fn http_head(data: &[u8]) {
        let Ok(Some((head, n))) = head::parse(data) else {
            return;
        };
        assert!(n <= data.len() && n <= MAX_HEAD_BYTES);
        // The head alone parses to the same head: nothing after it mattered.
        assert_eq!(head::parse(&data[..n]), Ok(Some((head.clone(), n))));
        // The loop only parses once it has seen the blank line, whichever
        // byte arrived last.
        assert!(head::may_be_complete(&data[..n], 0));
        assert!(head::may_be_complete(&data[..n], n - 1));
        assert!(head.target.starts_with('/') || head.target == "*");
        assert!(!head.target.bytes().any(|b| b <= b' ' || b == 0x7f));
        for (name, value) in &head.headers {
            assert!(!name.is_empty());
            assert!(!value.contains(['\r', '\n', '\0']), "{value:?}");
        }
        let fields = |want: &str| {
            head.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(want))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let te = fields("transfer-encoding");
        let cl = fields("content-length");
        match head.framing {
            Framing::Chunked => {
                assert_eq!(te.len(), 1);
                assert!(te[0].eq_ignore_ascii_case("chunked"));
                assert!(cl.is_empty());
                assert_eq!(head.minor_version, 1);
            }
            Framing::Length(k) => {
                assert!(te.is_empty());
                assert!(k > 0 && k <= i64::MAX as u64);
                assert!(cl.iter().all(|v| v.parse::<u64>() == Ok(k)), "{cl:?}");
            }
            Framing::Empty => {
                assert!(te.is_empty());
                assert!(cl.iter().all(|v| v.parse::<u64>() == Ok(0)), "{cl:?}");
            }
        }
    }
}

mod chunked_decode {
    // The chunked decoder: never panics; fed in pieces (split points from the
    // first input byte) it gives exactly what it gives fed at once; it never
    // outputs more than it consumed, and a decoded body re-encoded as chunks
    // decodes to itself.

    use pushgate::server::chunked::{ChunkError, ChunkedDecoder};

    #[derive(Debug, PartialEq)]
    struct Outcome {
        result: Result<usize, ChunkError>,
        out: Vec<u8>,
        done: bool,
    }

    fn at_once(input: &[u8]) -> Outcome {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let result = d.feed(input, &mut out);
        Outcome {
            result,
            out,
            done: d.is_done(),
        }
    }

    fn in_pieces(input: &[u8], step: usize) -> Outcome {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            match d.feed(piece, &mut out) {
                Ok(n) => {
                    used += n;
                    if d.is_done() {
                        break;
                    }
                }
                Err(e) => {
                    return Outcome {
                        result: Err(e),
                        out,
                        done: d.is_done(),
                    }
                }
            }
        }
        Outcome {
            result: Ok(used),
            out,
            done: d.is_done(),
        }
    }

    pub fn chunked_decode(data: &[u8]) {
        let Some((&control, input)) = data.split_first() else {
            return;
        };
        let whole = at_once(input);
        if let Ok(n) = whole.result {
            assert!(n <= input.len());
            assert!(whole.out.len() <= n);
            assert!(whole.done || n == input.len());
        }
        let step = usize::from(control % 16) + 1;
        assert_eq!(in_pieces(input, step), whole, "step {step}");
        if whole.done {
            let mut again = Vec::new();
            for chunk in whole.out.chunks(usize::from(control) + 1) {
                again.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                again.extend_from_slice(chunk);
                again.extend_from_slice(b"\r\n");
            }
            again.extend_from_slice(b"0\r\n\r\n");
            let decoded = at_once(&again);
            assert!(decoded.done);
            assert_eq!(decoded.out, whole.out);
            assert_eq!(decoded.result, Ok(again.len()));
        }
    }
}

mod upstream_persistence {
    // Upstream Pushgateway's persistence file (gob): never panics, and an
    // accepted file yields groups that each have a non-empty `job`, unique
    // family names, and families whose stored encoding decodes again.

    use pushgate::model::JOB_LABEL;
    use pushgate::persist::upstream::decode;

    pub fn upstream_persistence(data: &[u8]) {
        let Ok(import) = decode(data) else {
            return;
        };
        let mut families = 0;
        for group in &import.groups {
            let key = &group.snapshot.key;
            assert!(
                key.get(JOB_LABEL).is_some_and(|job| !job.is_empty()),
                "imported group without a job: {key}"
            );
            let names: Vec<&str> = group.snapshot.families.iter().map(|f| f.name()).collect();
            assert!(
                names.windows(2).all(|w| w[0] < w[1]),
                "families not unique and sorted in {key}"
            );
            for f in &group.snapshot.families {
                assert!(pushgate::proto::decode_family(f.encoded()).is_ok());
            }
            families += names.len();
        }
        assert_eq!(families, import.families);
    }
}

mod text_parse {
    // Text exposition parser: never panics, and whatever it accepts renders to
    // text that parses back to the same families (render ∘ parse is a fixpoint).

    use super::shared::{comparable, render_families};
    use pushgate::exposition::{parse, NameEscaping};
    use pushgate::model::{Bucket, MetricFamily, MetricType, NameValidation, Value};

    pub fn text_parse(data: &[u8]) {
        round_trip(data, NameValidation::Legacy, NameEscaping::Underscores);
        round_trip(data, NameValidation::Utf8, NameEscaping::AllowUtf8);
    }

    fn round_trip(data: &[u8], names: NameValidation, escaping: NameEscaping) {
        let Ok(mut families) = parse(data, names) else {
            return;
        };
        if has_suffix_collision(&families) {
            // Ambiguous in the text format itself: `h_sum` lines after a
            // histogram `h` belong to a family named `h_sum` if there is one
            // (upstream parses them the same way; the store refuses such pushes).
            return;
        }
        let text = render_families(&families, escaping);
        let again = parse(&text, names).unwrap_or_else(|e| {
            panic!(
                "{names:?}: rendered text does not parse: {e}\n{}",
                String::from_utf8_lossy(&text)
            )
        });
        without_timestamps(&mut families);
        positive_zero_samples(&mut families);
        with_inf_buckets(&mut families);
        assert_eq!(
            comparable(&families),
            comparable(&again),
            "{names:?}: families changed by render + parse; rendered:\n{}",
            String::from_utf8_lossy(&text)
        );
    }

    /// Whether one family is named like the `_sum`, `_count` or `_bucket` lines
    /// of a summary or histogram family.
    fn has_suffix_collision(families: &[MetricFamily]) -> bool {
        families.iter().any(|f| {
            let suffixes: &[&str] = match f.kind {
                MetricType::Summary => &["_sum", "_count"],
                MetricType::Histogram => &["_sum", "_count", "_bucket"],
                _ => return false,
            };
            suffixes.iter().any(|suffix| {
                let line_name = format!("{}{}", f.name, suffix);
                families.iter().any(|other| other.name == line_name)
            })
        })
    }

    /// The renderer writes no timestamps by design: pushes carrying them are
    /// rejected before they reach a scrape.
    fn without_timestamps(families: &mut [MetricFamily]) {
        for metric in families.iter_mut().flat_map(|f| f.metrics.iter_mut()) {
            metric.timestamp_ms = None;
        }
    }

    /// Sample values of -0 are written as `0`, as upstream's text writer does;
    /// bucket bounds and quantiles keep their sign.
    fn positive_zero_samples(families: &mut [MetricFamily]) {
        fn fix(v: &mut f64) {
            if *v == 0.0 {
                *v = 0.0;
            }
        }
        for metric in families.iter_mut().flat_map(|f| f.metrics.iter_mut()) {
            match &mut metric.value {
                Value::Counter(c) => fix(&mut c.value),
                Value::Gauge(v) | Value::Untyped(v) => fix(v),
                Value::Summary(s) => {
                    fix(&mut s.sample_sum);
                    s.quantiles.iter_mut().for_each(|q| fix(&mut q.value));
                }
                Value::Histogram(h) => {
                    h.sample_sum.iter_mut().for_each(fix);
                    h.sample_count_float.iter_mut().for_each(fix);
                    for b in &mut h.buckets {
                        b.cumulative_count_float.iter_mut().for_each(fix);
                    }
                }
                Value::Missing => {}
            }
        }
    }

    /// A histogram without a `+Inf` bucket is written with one holding the
    /// count, as upstream's text writer does.
    fn with_inf_buckets(families: &mut [MetricFamily]) {
        for metric in families.iter_mut().flat_map(|f| f.metrics.iter_mut()) {
            let Value::Histogram(h) = &mut metric.value else {
                continue;
            };
            if h.buckets.iter().any(|b| b.upper_bound == f64::INFINITY) {
                continue;
            }
            h.buckets.push(Bucket {
                cumulative_count: h.sample_count,
                cumulative_count_float: h.sample_count_float,
                upper_bound: f64::INFINITY,
                exemplar: None,
            });
        }
    }
}

mod proto_decode {
    // Delimited protobuf decoder: never panics, and whatever it accepts encodes
    // to bytes that decode to the same families.

    use super::shared::comparable;
    use pushgate::model::NameValidation;
    use pushgate::proto::{decode_delimited, encode_delimited};

    pub fn proto_decode(data: &[u8]) {
        for names in [NameValidation::Legacy, NameValidation::Utf8] {
            let Ok(families) = decode_delimited(data, names) else {
                continue;
            };
            let mut encoded = Vec::new();
            for family in &families {
                encode_delimited(family, &mut encoded);
            }
            let again = decode_delimited(&encoded, names)
                .unwrap_or_else(|e| panic!("{names:?}: re-encoded families do not decode: {e}"));
            assert_eq!(
                comparable(&families),
                comparable(&again),
                "{names:?}: families changed by encode + decode"
            );
        }
    }
}

mod push_path {
    // Push URL grammar: never panics; an accepted path yields a key with a
    // non-empty `job` and valid label names, and writing that key back as an
    // all-base64 path parses to the same key.

    use super::shared::base64url;
    use pushgate::model::{GroupingKey, NameValidation, JOB_LABEL};
    use pushgate::push::grouping_key_from_path;

    pub fn push_path(data: &[u8]) {
        for names in [NameValidation::Legacy, NameValidation::Utf8] {
            for job_is_base64 in [false, true] {
                if let Ok(key) = grouping_key_from_path(data, job_is_base64, names) {
                    check_key(&key, names);
                    check_round_trip(&key, names);
                }
            }
        }
    }

    fn check_key(key: &GroupingKey, names: NameValidation) {
        assert!(
            key.get(JOB_LABEL).is_some_and(|job| !job.is_empty()),
            "accepted key without a job: {key}"
        );
        for label in key.labels() {
            assert!(names.label_name_ok(&label.name), "bad label name in {key}");
            assert!(
                !label.name.starts_with("__"),
                "reserved label name in {key}"
            );
        }
    }

    fn check_round_trip(key: &GroupingKey, names: NameValidation) {
        let path = all_base64_path(key, names);
        let again = grouping_key_from_path(path.as_bytes(), true, names)
            .unwrap_or_else(|e| panic!("{names:?}: {path:?} (written from {key}) rejected: {e}"));
        assert_eq!(&again, key, "{names:?}: {path:?}");
    }

    /// `/<job>/<name>@base64/<value>...` with every value base64url-encoded
    /// and, in UTF-8 mode, every name `U__`-escaped (names may hold `/`).
    fn all_base64_path(key: &GroupingKey, names: NameValidation) -> String {
        let job = key.get(JOB_LABEL).unwrap_or_default();
        let mut path = format!("/{}", base64url(job.as_bytes()));
        for label in key.labels().iter().filter(|l| l.name != JOB_LABEL) {
            path.push_str(&format!(
                "/{}@base64/{}",
                written_name(&label.name, names),
                base64url(label.value.as_bytes())
            ));
        }
        path
    }

    fn written_name(name: &str, names: NameValidation) -> String {
        if names == NameValidation::Legacy {
            return name.to_string();
        }
        let mut out = String::from("U__");
        for c in name.chars() {
            match c {
                '_' => out.push_str("__"),
                c if c.is_ascii_alphanumeric() => out.push(c),
                c => out.push_str(&format!("_{:x}_", u32::from(c))),
            }
        }
        out
    }
}

mod body_decode {
    // Request body decoding (gzip, framed snappy): never panics, never returns
    // more than the limit, never holds much more memory than the limit, and
    // agrees with a decode under a larger limit.

    // The memory bound needs a counting global allocator, which only the
    // fuzz binary installs; the replay in `cargo test` passes no probe.

    use pushgate::body::{decode, BodyError};

    /// Live and peak heap bytes, as a counting global allocator sees them.
    pub trait HeapProbe: Sync {
        /// Starts a new peak measurement from the bytes live now.
        fn reset_peak(&self);
        fn live(&self) -> usize;
        fn peak(&self) -> usize;
    }

    /// The limit under test: small, so that bombs are cheap to find.
    const LIMIT: u64 = 4096;
    /// A limit no input of libFuzzer's default length can reach except by a bomb.
    const LARGE_LIMIT: u64 = 1 << 20;
    /// What a decoder may hold besides its output: gzip's 32 KiB window and
    /// state, snappy's two 64 KiB block buffers.
    const DECODER_OVERHEAD: usize = 256 * 1024;
    /// The output grows by doubling up to about twice the limit, and while it
    /// is reallocated the old and the new buffer are both live.
    const OUTPUT_FACTOR: usize = 3;

    pub fn body_decode(data: &[u8], heap: Option<&dyn HeapProbe>) {
        for encoding in ["gzip", "snappy"] {
            let small = bounded(data, encoding, LIMIT, heap);
            let large = bounded(data, encoding, LARGE_LIMIT, heap);
            agree(&small, &large, encoding);
        }
    }

    /// Decodes under `limit`, checking the output size and, with a probe,
    /// the peak memory.
    fn bounded(
        data: &[u8],
        encoding: &str,
        limit: u64,
        heap: Option<&dyn HeapProbe>,
    ) -> Result<Vec<u8>, BodyError> {
        let body = data.to_vec();
        if let Some(heap) = heap {
            heap.reset_peak();
        }
        let before = heap.map(|h| h.live());
        let result = decode(body, Some(encoding), limit);
        if let (Some(heap), Some(before)) = (heap, before) {
            let held = heap.peak().saturating_sub(before);
            let allowed = OUTPUT_FACTOR * limit as usize + DECODER_OVERHEAD;
            assert!(
                held <= allowed,
                "{encoding}: decoding held {held} bytes, more than {allowed} for limit {limit}"
            );
        }
        if let Ok(out) = &result {
            assert!(
                out.len() as u64 <= limit,
                "{encoding}: {} bytes over limit {limit}",
                out.len()
            );
        }
        result
    }

    /// A decode under the small limit must be the large decode cut short.
    fn agree(
        small: &Result<Vec<u8>, BodyError>,
        large: &Result<Vec<u8>, BodyError>,
        encoding: &str,
    ) {
        match (small, large) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{encoding}: output depends on the limit"),
            // The stream may be corrupt only after the small limit's end.
            (Err(BodyError::TooLarge { .. }), _) => {}
            (Ok(a), Err(e)) => panic!(
                "{encoding}: {} bytes under the small limit, {e} under the large",
                a.len()
            ),
            (Err(e), Ok(b)) if b.len() as u64 <= LIMIT => {
                panic!(
                    "{encoding}: {e} under the small limit, {} bytes under the large",
                    b.len()
                )
            }
            (Err(BodyError::Corrupt { .. }), Ok(_)) => {
                panic!("{encoding}: corrupt under the small limit but not under the large")
            }
            (Err(BodyError::Corrupt { .. }), Err(_)) => {}
        }
    }
}

mod store_push {
    // The store under a sequence of pushes of parsed bodies: never panics; a
    // rejected push changes nothing but the group's failure gauge; after any
    // accepted push (checked mode) the store gathers without inconsistencies
    // and its scrape text parses.
    //
    // Input: up to four pushes separated by `\n--\n` (a line no valid text
    // body has; NUL would cut protobuf doubles). The first byte of each
    // is a control byte: bit 0 = PUT (else POST), bits 1-2 = which of three
    // grouping keys, bit 3 = protobuf body (else text); the rest is the body.

    use std::collections::BTreeMap;

    use super::shared::render_families;
    use pushgate::exposition::NameEscaping;
    use pushgate::model::{
        GroupingKey, Label, MetricFamily, MetricType, NameValidation, PUSH_FAILURE_TIME_METRIC,
        PUSH_TIME_METRIC,
    };
    use pushgate::store::{CheckMode, Push, PushOutcome, ReservedFamily, Store};

    const MAX_PUSHES: usize = 4;
    const SEPARATOR: &[u8] = b"\n--\n";
    /// Unix nanoseconds of the first push; each later push is one second on.
    const START_NANOS: i64 = 1_700_000_000_000_000_000;

    pub fn store_push(data: &[u8]) {
        let store = Store::new(
            vec![ReservedFamily {
                name: "process_open_fds".to_string(),
                kind: MetricType::Gauge,
            }],
            CheckMode::Checked,
            NameValidation::Legacy,
        );
        for (i, chunk) in split_pushes(data).into_iter().enumerate() {
            let Some((&control, body)) = chunk.split_first() else {
                continue;
            };
            let Some(families) = parse_body(body, control & 8 != 0) else {
                continue;
            };
            let key = grouping_key(control >> 1);
            let received_at = START_NANOS + i as i64 * 1_000_000_000;
            let before = snapshot(&store);
            let outcome = store.push(Push {
                key: key.clone(),
                families,
                replace_group: control & 1 != 0,
                received_at,
                ttl: None,
            });
            match outcome {
                PushOutcome::Applied => check_scrape(&store),
                PushOutcome::Rejected(_) => check_only_failure_changed(&store, before, &key),
                PushOutcome::OverBudget(msg) => panic!("over budget without a budget: {msg}"),
            }
            // The JSON API renders every stored value; it must not panic either.
            let _ = pushgate::api::metrics(&store.groups());
        }
    }

    fn split_pushes(data: &[u8]) -> Vec<&[u8]> {
        let mut pushes = Vec::new();
        let mut rest = data;
        while pushes.len() + 1 < MAX_PUSHES {
            let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) else {
                break;
            };
            pushes.push(&rest[..at]);
            rest = &rest[at + SEPARATOR.len()..];
        }
        pushes.push(rest);
        pushes
    }

    fn parse_body(body: &[u8], protobuf: bool) -> Option<Vec<MetricFamily>> {
        if protobuf {
            pushgate::proto::decode_delimited(body, NameValidation::Legacy).ok()
        } else {
            pushgate::exposition::parse(body, NameValidation::Legacy).ok()
        }
    }

    fn grouping_key(choice: u8) -> GroupingKey {
        match choice & 3 {
            0 => GroupingKey::new([Label::new("job", "a")]),
            1 => GroupingKey::new([Label::new("job", "a"), Label::new("instance", "x")]),
            _ => GroupingKey::new([Label::new("job", "b")]),
        }
    }

    /// Group sort key → (key, TTL, deadline, family name → family with its
    /// write time), all as `Debug` text so that NaN values compare equal.
    type Snapshot = BTreeMap<Vec<u8>, (String, BTreeMap<String, String>)>;

    fn snapshot(store: &Store) -> Snapshot {
        store
            .groups()
            .into_iter()
            .map(|g| {
                let families = g
                    .families
                    .iter()
                    .map(|f| (f.name().to_string(), format!("{:?}", f)))
                    .collect();
                let head = format!("{:?} ttl={:?} expires={:?}", g.key, g.ttl, g.expires_at);
                (g.key.sort_key(), (head, families))
            })
            .collect()
    }

    fn check_only_failure_changed(store: &Store, mut before: Snapshot, key: &GroupingKey) {
        let mut after = snapshot(store);
        let gid = key.sort_key();
        let (_, families) = after
            .get_mut(&gid)
            .unwrap_or_else(|| panic!("rejected push did not record its group {key}"));
        assert!(
            families.remove(PUSH_FAILURE_TIME_METRIC).is_some(),
            "rejected push left no failure gauge in {key}"
        );
        match before.get_mut(&gid) {
            Some((_, families)) => {
                families.remove(PUSH_FAILURE_TIME_METRIC);
            }
            None => {
                // A new group holds only the two gauges; push time 0 is checked
                // through its presence (its value is the group's business).
                let (_, families) = &after[&gid];
                let names: Vec<&String> = families.keys().collect();
                assert_eq!(names, [PUSH_TIME_METRIC], "new group after a rejected push");
                after.remove(&gid);
            }
        }
        assert_eq!(before, after, "a rejected push changed the store");
    }

    fn check_scrape(store: &Store) {
        let (_, gathered) = store
            .gather()
            .unwrap_or_else(|r| panic!("checked store became inconsistent: {r}"));
        let families: Vec<MetricFamily> = gathered
            .iter()
            .map(|g| MetricFamily {
                name: g.name.clone(),
                help: g.help.clone(),
                kind: g.kind,
                unit: None,
                metrics: g
                    .members
                    .iter()
                    .flat_map(|m| m.metrics.iter().cloned())
                    .collect(),
            })
            .collect();
        let text = render_families(&families, NameEscaping::Underscores);
        if let Err(e) = pushgate::exposition::parse(&text, NameValidation::Legacy) {
            panic!(
                "scrape text of a consistent store does not parse: {e}\n{}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}

mod shared {
    // Rendering parsed families back to text, NaN-tolerant comparison and
    // base64url, used by several targets.

    use pushgate::exposition::render::render_family;
    use pushgate::exposition::NameEscaping;
    use pushgate::model::{Metric, MetricFamily};

    /// Every family as a scrape would write it, in the given order.
    pub fn render_families(families: &[MetricFamily], escaping: NameEscaping) -> Vec<u8> {
        let mut out = Vec::new();
        for family in families {
            let metrics: Vec<&Metric> = family.metrics.iter().collect();
            render_family(
                &mut out,
                &family.name,
                family.help.as_deref(),
                family.kind,
                &metrics,
                escaping,
            );
        }
        out
    }

    /// A form of `families` that compares equal when they are equal with NaN
    /// equal to NaN (derived `PartialEq` says NaN != NaN; `Debug` prints `NaN`).
    pub fn comparable(families: &[MetricFamily]) -> Vec<String> {
        families.iter().map(|f| format!("{:?}", f)).collect()
    }

    /// Base64 with the URL-safe alphabet and `=` padding, as push URLs use it.
    pub fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

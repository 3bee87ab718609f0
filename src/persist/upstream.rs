//! Reading upstream Pushgateway's persistence file (the `--persistence.file`
//! of Pushgateway 1.x, shared flag name) into groups for the store, so an
//! operator can replace upstream on the same flags without losing data.
//!
//! Upstream writes one Go `encoding/gob` value (decoded by [`super::gob`]):
//! a map from a grouping-key string (a hash in later releases; unused here)
//! to a struct `{Labels map[string]string; Metrics map[string]T}`, where `T`
//! is `{Timestamp time.Time; GobbableMetricFamily}`: the time the family was
//! last written (Go's binary time encoding) and the family's
//! `io.prometheus.client.MetricFamily` protobuf message. The series already
//! carry the grouping labels, and the `push_time_seconds` /
//! `push_failure_time_seconds` gauges are ordinary families of the group, as
//! in pushgate's own format; both convert one to one.
//!
//! A file that is not such a stream is refused as a whole. A group that
//! cannot be used (labels not UTF-8 or without `job`, a family that does not
//! decode, a family name twice) is skipped and reported in
//! [`Import::skipped`]; the rest is imported.

use std::path::Path;
use std::sync::Arc;

use super::gob::{self, Value};
use crate::model::{GroupingKey, Label, NameValidation};
use crate::proto;
use crate::store::{
    series_hashes, CheckMode, GroupSnapshot, RestoredGroup, Store, TimestampedFamily,
};

/// Seconds from 0001-01-01 (Go's time origin) to 1970-01-01.
const GO_UNIX_OFFSET: i64 = 62_135_596_800;

/// The groups read from an upstream file, and what was left out.
pub struct Import {
    /// In grouping-key order.
    pub groups: Vec<RestoredGroup>,
    pub families: usize,
    pub series: usize,
    /// One line per group that was not imported: its labels and why.
    pub skipped: Vec<String>,
}

/// True if `bytes` start like a gob stream whose first message defines a
/// type (what upstream's encoder always writes first). Cheap; says nothing
/// about the rest.
pub fn looks_like_gob(bytes: &[u8]) -> bool {
    // A message length (small files: one byte; else 0xFF..0xF8 + bytes),
    // then a negative type id >= 65: 0xFF 0x81.. as a two-byte uint.
    let rest = match bytes.first() {
        Some(&b) if b < 0x80 => &bytes[1..],
        Some(&b) if b >= 0xF8 => bytes
            .get(1 + (b as i8).unsigned_abs() as usize..)
            .unwrap_or(&[]),
        _ => return false,
    };
    matches!(rest, [0xFF, id, ..] if id & 1 == 1 && *id >= 0x81)
}

/// Decodes an upstream persistence file.
pub fn decode(bytes: &[u8]) -> Result<Import, String> {
    let value = gob::decode_single(bytes).map_err(|e| e.to_string())?;
    let Value::Map(entries) = value else {
        return Err("the stored value is not a map of groups".into());
    };
    let mut import = Import {
        groups: Vec::with_capacity(entries.len()),
        families: 0,
        series: 0,
        skipped: Vec::new(),
    };
    for (_, group) in &entries {
        if !matches!(group, Value::Struct(_)) {
            return Err("a group is not a struct".into());
        }
        let labels = match group.field("Labels") {
            None => Vec::new(),
            Some(Value::Map(pairs)) => pairs.clone(),
            Some(_) => return Err("a group's Labels is not a map".into()),
        };
        let shown = show_labels(&labels);
        match convert_group(&labels, group.field("Metrics")) {
            Ok(g) => {
                import.families += g.snapshot.families.len();
                import.series += g
                    .snapshot
                    .families
                    .iter()
                    .map(|f| f.series_count())
                    .sum::<usize>();
                import.groups.push(g);
            }
            Err(why) => import.skipped.push(format!("{}: {}", shown, why)),
        }
    }
    import
        .groups
        .sort_by_cached_key(|g| g.snapshot.key.sort_key());
    if let Some(w) = import
        .groups
        .windows(2)
        .find(|w| w[0].snapshot.key == w[1].snapshot.key)
    {
        return Err(format!("group {} appears twice", w[0].snapshot.key));
    }
    Ok(import)
}

fn convert_group(
    labels: &[(Value, Value)],
    metrics: Option<&Value>,
) -> Result<RestoredGroup, String> {
    let mut pairs = Vec::with_capacity(labels.len());
    for (name, value) in labels {
        let (Value::String(name), Value::String(value)) = (name, value) else {
            return Err("a grouping label is not a string pair".into());
        };
        let name = std::str::from_utf8(name).map_err(|_| "a grouping label name is not UTF-8")?;
        let value = std::str::from_utf8(value)
            .map_err(|_| format!("the value of grouping label {:?} is not UTF-8", name))?;
        pairs.push(Label::new(name, value));
    }
    if !pairs.iter().any(|l| l.name == "job" && !l.value.is_empty()) {
        return Err("no job label".into());
    }
    let key = GroupingKey::new(pairs);
    if key.labels().len() != labels.len() {
        return Err("a grouping label appears twice".into());
    }
    let entries: &[(Value, Value)] = match metrics {
        None => &[],
        Some(Value::Map(entries)) => entries,
        Some(_) => return Err("Metrics is not a map".into()),
    };
    let mut families = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let shown = match name {
            Value::String(n) => String::from_utf8_lossy(n).into_owned(),
            _ => return Err("a family name is not a string".into()),
        };
        let written_at = match entry.field("Timestamp") {
            None => 0,
            Some(Value::Encoded(t)) => {
                go_time_unix_nanos(t).map_err(|e| format!("family {:?}: {}", shown, e))?
            }
            Some(_) => return Err(format!("family {:?}: Timestamp is not a time", shown)),
        };
        let message: &[u8] = match entry.field("GobbableMetricFamily") {
            Some(Value::Encoded(m)) => m,
            None => &[],
            Some(_) => return Err(format!("family {:?} is not an encoded MetricFamily", shown)),
        };
        let family =
            proto::decode_family(message).map_err(|e| format!("family {:?}: {}", shown, e))?;
        if family.name.is_empty() {
            return Err(format!("family {:?} has no name", shown));
        }
        let hashes = series_hashes(&family);
        // Re-encoded: the store's bytes are always pushgate's own encoding.
        families.push((
            Arc::new(TimestampedFamily::new(&family, written_at)),
            hashes,
        ));
    }
    families.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    if let Some(w) = families.windows(2).find(|w| w[0].0.name() == w[1].0.name()) {
        return Err(format!("family {:?} appears twice", w[0].0.name()));
    }
    let (families, hashes) = families.into_iter().unzip();
    Ok(RestoredGroup {
        snapshot: GroupSnapshot {
            key,
            families,
            ttl: None,
            expires_at: None,
        },
        hashes,
    })
}

/// `pushgate import FILE [OUT]`: reads upstream's persistence file FILE and
/// prints what it holds (one line per group) to stdout; with OUT, also writes
/// it as pushgate's snapshot to OUT, which must not exist. FILE is only read.
/// Returns the exit code: 0 done, 1 refused (reason on stderr), 2 usage.
pub fn run_import_command(args: &[String]) -> u8 {
    let (input, output) = match args {
        [input] => (input, None),
        [input, output] => (input, Some(output)),
        _ => {
            eprintln!(
                "usage: pushgate import UPSTREAM_PERSISTENCE_FILE [PUSHGATE_PERSISTENCE_FILE]"
            );
            return 2;
        }
    };
    match import_command(Path::new(input), output.map(Path::new)) {
        Ok(report) => {
            print!("{}", report);
            0
        }
        Err(e) => {
            eprintln!("pushgate import: {}", e);
            1
        }
    }
}

fn import_command(input: &Path, output: Option<&Path>) -> Result<String, String> {
    let bytes =
        std::fs::read(input).map_err(|e| format!("cannot read {}: {}", input.display(), e))?;
    if !looks_like_gob(&bytes) {
        return Err(format!(
            "{} is not an upstream Pushgateway persistence file",
            input.display()
        ));
    }
    let import = decode(&bytes).map_err(|e| format!("{}: {}", input.display(), e))?;
    let mut report = format!(
        "{}: {} groups, {} families, {} series",
        input.display(),
        import.groups.len(),
        import.families,
        import.series
    );
    if !import.skipped.is_empty() {
        report.push_str(&format!(", {} groups skipped", import.skipped.len()));
    }
    report.push('\n');
    for g in &import.groups {
        let s = &g.snapshot;
        report.push_str(&format!(
            "  {} families={} push_time_seconds={} push_failure_time_seconds={}\n",
            s.key,
            s.families.len(),
            crate::go::format_float(s.push_time()),
            crate::go::format_float(s.failure_time())
        ));
    }
    for skipped in &import.skipped {
        report.push_str(&format!("  skipped {}\n", skipped));
    }
    let Some(output) = output else {
        return Ok(report);
    };
    if std::fs::symlink_metadata(output).is_ok() {
        return Err(format!("{} exists; choose a new file", output.display()));
    }
    let store = Store::new(Vec::new(), CheckMode::Checked, NameValidation::Legacy);
    let persistence = super::open(output, &store).map_err(|e| e.to_string())?;
    store.restore_hashed(import.groups);
    persistence.shutdown(&store).map_err(|e| e.to_string())?;
    report.push_str(&format!("wrote {}\n", output.display()));
    Ok(report)
}

/// Labels as `{name="value",...}` for a log line, whatever their bytes.
fn show_labels(labels: &[(Value, Value)]) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => String::from_utf8_lossy(s).into_owned(),
        other => format!("{:?}", other),
    };
    let inner: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{}={:?}", text(n), text(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Unix nanoseconds of a Go `time.Time` in its binary encoding (version 1:
/// 15 bytes; version 2: 16, with seconds of the zone offset): version byte,
/// `i64` seconds since 0001-01-01 UTC, `i32` nanoseconds, `i16` zone offset
/// in minutes (-1 = UTC), all big-endian. The zone does not change the instant.
/// The zero time (year 1) means "never" and maps to 0.
pub fn go_time_unix_nanos(b: &[u8]) -> Result<i64, String> {
    let ok = matches!((b.first(), b.len()), (Some(1), 15) | (Some(2), 16));
    if !ok {
        return Err(format!("not a Go time encoding ({} bytes)", b.len()));
    }
    let mut sec = [0u8; 8];
    sec.copy_from_slice(&b[1..9]);
    let mut nsec = [0u8; 4];
    nsec.copy_from_slice(&b[9..13]);
    let (sec, nsec) = (i64::from_be_bytes(sec), i32::from_be_bytes(nsec));
    if !(0..1_000_000_000).contains(&nsec) {
        return Err(format!("nanoseconds {} out of range", nsec));
    }
    if sec == 0 && nsec == 0 {
        return Ok(0);
    }
    sec.checked_sub(GO_UNIX_OFFSET)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|n| n.checked_add(i64::from(nsec)))
        .ok_or_else(|| format!("time {} s after year 1 is out of range", sec))
}

#[cfg(test)]
mod tests {
    use super::super::gob::tests::enc;
    use super::*;
    use crate::model::{Metric, MetricFamily, MetricType, Value as Sample};

    fn go_time(unix: i64, nsec: i32) -> Vec<u8> {
        let mut t = vec![1];
        t.extend_from_slice(&(unix + GO_UNIX_OFFSET).to_be_bytes());
        t.extend_from_slice(&nsec.to_be_bytes());
        t.extend_from_slice(&(-1i16).to_be_bytes());
        t
    }

    fn gauge(name: &str, labels: &[(&str, &str)], v: f64) -> Vec<u8> {
        let mut f = MetricFamily::new(name, MetricType::Gauge);
        f.metrics.push(Metric {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            value: Sample::Gauge(v),
            timestamp_ms: None,
        });
        proto::encode_family(&f)
    }

    /// An upstream-shaped file: groups of (labels, [(family name, time, protobuf)]).
    /// (grouping labels, families as (name, Go time, protobuf)).
    type TestGroup<'a> = (Vec<(&'a str, &'a [u8])>, Vec<(&'a str, Vec<u8>, Vec<u8>)>);

    fn upstream_file(groups: &[TestGroup]) -> Vec<u8> {
        let (top, group, labels, metrics, tmf, time, gmf) = (65, 66, 67, 68, 69, 70, 71);
        let mut s = Vec::new();
        enc::define_map(&mut s, top, 6, group);
        enc::define_struct(
            &mut s,
            group,
            "MetricGroup",
            &[("Labels", labels), ("Metrics", metrics)],
        );
        enc::define_map(&mut s, labels, 6, 6);
        enc::define_map(&mut s, metrics, 6, tmf);
        enc::define_struct(
            &mut s,
            tmf,
            "TimestampedMetricFamily",
            &[("Timestamp", time), ("GobbableMetricFamily", gmf)],
        );
        enc::define_encoded(&mut s, time, "Time");
        enc::define_encoded(&mut s, gmf, "GobbableMetricFamily");
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, groups.len() as u64);
        for (i, (ls, fams)) in groups.iter().enumerate() {
            enc::bytes(&mut v, format!("key{}", i).as_bytes());
            enc::uint(&mut v, 1);
            enc::uint(&mut v, ls.len() as u64);
            for (n, val) in ls {
                enc::bytes(&mut v, n.as_bytes());
                enc::bytes(&mut v, val);
            }
            enc::uint(&mut v, 1);
            enc::uint(&mut v, fams.len() as u64);
            for (n, t, pb) in fams {
                enc::bytes(&mut v, n.as_bytes());
                enc::uint(&mut v, 1);
                enc::bytes(&mut v, t);
                enc::uint(&mut v, 1);
                enc::bytes(&mut v, pb);
                enc::uint(&mut v, 0);
            }
            enc::uint(&mut v, 0);
        }
        enc::message(&mut s, top, &v);
        s
    }

    #[test]
    fn go_times_convert_to_unix_nanos() {
        assert_eq!(
            go_time_unix_nanos(&go_time(1_700_000_000, 5)).unwrap(),
            1_700_000_000_000_000_005
        );
        let mut v2 = go_time(0, 0);
        v2[0] = 2;
        v2.push(0);
        assert_eq!(go_time_unix_nanos(&v2).unwrap(), 0);
        let zero = {
            let mut t = vec![1];
            t.extend_from_slice(&[0; 12]);
            t.extend_from_slice(&(-1i16).to_be_bytes());
            t
        };
        assert_eq!(go_time_unix_nanos(&zero).unwrap(), 0);
        assert!(go_time_unix_nanos(&[1, 2, 3]).is_err());
        let mut bad = go_time(1, 0);
        bad[9..13].copy_from_slice(&2_000_000_000i32.to_be_bytes());
        assert!(go_time_unix_nanos(&bad).is_err());
        let mut far = go_time(0, 0);
        far[1..9].copy_from_slice(&i64::MAX.to_be_bytes());
        assert!(go_time_unix_nanos(&far).is_err());
    }

    #[test]
    fn groups_families_and_times_convert() {
        let file = upstream_file(&[
            (
                vec![("job", b"j"), ("zone", "z\u{fc}".as_bytes())],
                vec![
                    (
                        "m",
                        go_time(1_700_000_000, 7),
                        gauge("m", &[("job", "j"), ("zone", "z\u{fc}")], 1.5),
                    ),
                    (
                        "push_time_seconds",
                        go_time(1_700_000_001, 0),
                        gauge(
                            "push_time_seconds",
                            &[("job", "j"), ("zone", "z\u{fc}")],
                            1.7e9,
                        ),
                    ),
                ],
            ),
            (vec![("job", b"a")], vec![]),
        ]);
        assert!(looks_like_gob(&file));
        let import = decode(&file).unwrap();
        assert_eq!(
            (import.groups.len(), import.families, import.series),
            (2, 2, 2)
        );
        assert!(import.skipped.is_empty());
        let g = &import.groups[1].snapshot;
        assert_eq!(
            g.key.to_string(),
            GroupingKey::new([Label::new("job", "j"), Label::new("zone", "z\u{fc}")]).to_string()
        );
        assert_eq!(g.families[0].name(), "m");
        assert_eq!(g.families[0].written_at, 1_700_000_000_000_000_007);
        assert_eq!(g.push_time(), 1.7e9);
        assert_eq!(import.groups[0].snapshot.families.len(), 0);
    }

    #[test]
    fn unusable_groups_are_skipped_with_a_reason() {
        let file = upstream_file(&[
            (vec![("job", b"\xff")], vec![]),
            (vec![("instance", b"i")], vec![]),
            (
                vec![("job", b"bad")],
                vec![("m", go_time(1, 0), b"\xff\xff".to_vec())],
            ),
            (vec![("job", b"ok")], vec![]),
        ]);
        let import = decode(&file).unwrap();
        assert_eq!(import.groups.len(), 1);
        assert_eq!(import.skipped.len(), 3, "{:?}", import.skipped);
        assert!(
            import.skipped[0].contains("not UTF-8"),
            "{:?}",
            import.skipped
        );
        assert!(import.skipped[1].contains("no job"), "{:?}", import.skipped);
        assert!(
            import.skipped[2].contains("family \"m\""),
            "{:?}",
            import.skipped
        );
    }

    #[test]
    fn other_streams_are_refused() {
        assert!(!looks_like_gob(b"PGSTORE1"));
        assert!(!looks_like_gob(b""));
        let mut s = Vec::new();
        enc::define_slice(&mut s, 65, 6);
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, 0);
        enc::message(&mut s, 65, &v);
        assert!(looks_like_gob(&s));
        assert!(decode(&s).err().is_some_and(|e| e.contains("not a map")));
        let file = upstream_file(&[(vec![("job", b"j")], vec![])]);
        for n in 0..file.len() {
            assert!(decode(&file[..n]).is_err(), "prefix {}", n);
        }
    }

    /// A file written by Debian's upstream 1.5.1 (see scripts/test/capture-upstream-persistence.sh).
    const RICH: &[u8] = include_bytes!("../../tests/fixtures/upstream-persistence/rich.gob");

    #[test]
    fn upstreams_own_file_decodes_completely() {
        let import = decode(RICH).unwrap();
        assert_eq!(
            (import.groups.len(), import.families, import.series),
            (8, 32, 39)
        );
        assert!(import.skipped.is_empty(), "{:?}", import.skipped);
    }

    #[test]
    fn damaged_copies_of_upstreams_file_never_panic() {
        for n in (0..RICH.len()).step_by(7) {
            assert!(decode(&RICH[..n]).is_err(), "prefix {}", n);
        }
        // Every fourth byte, alternately replaced by 0x80 and 0xff (each
        // decode also decodes every protobuf message, so not all bytes).
        for i in (0..RICH.len()).step_by(4) {
            let mut m = RICH.to_vec();
            m[i] = if i % 8 == 0 { 0x80 } else { 0xff };
            let _ = decode(&m);
        }
    }
}

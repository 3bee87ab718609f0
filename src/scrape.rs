//! `GET <telemetry-path>`: own and stored families merged by name, rendered
//! as text 0.0.4 or delimited protobuf after content negotiation, gzipped on
//! request.
//!
//! Series order and HELP choice are deterministic (§7.2, §7.3). An
//! inconsistent store (possible only after unchecked pushes) fails the whole
//! scrape with 500, as upstream, instead of serving a partial body.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::exposition::{self, NameEscaping};
use crate::http::media::{self, MediaRange};
use crate::http::{Request, Response, ResponseBody, Status};
use crate::log;
use crate::model::{Metric, MetricFamily, MetricType};
use crate::proto;
use crate::store::{FamilySnapshot, Part, Store};
use crate::telemetry::{self, Telemetry};

/// Which wire format a scraper asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Protobuf,
}

/// What the scrape handler needs to know of the configuration.
#[derive(Clone, Copy, Debug)]
pub struct ScrapeSettings {
    pub utf8_names: bool,
}

/// One family of the merged exposition: its type and HELP plus borrowed series.
struct MergedFamily<'a> {
    name: &'a str,
    help: Option<&'a str>,
    kind: MetricType,
    metrics: Vec<&'a Metric>,
}

pub fn handle(
    req: &Request,
    store: &Store,
    telemetry: &Telemetry,
    _cache: &ScrapeCache,
    settings: ScrapeSettings,
) -> Response {
    let accept = req.header("Accept").unwrap_or("");
    let (format, escaping, content_type) = negotiate(accept, settings.utf8_names);
    let gzip = wants_gzip(req.header("Accept-Encoding").unwrap_or(""));
    let own = telemetry.families(&store_usage(store));
    let body = if escaping != NameEscaping::Underscores && format == Format::Text {
        // The kept text uses underscore escaping; other schemes (names
        // written quoted or escaped otherwise) are asked for rarely enough
        // to be rendered from scratch.
        match render_from_scratch(store, &own, format, escaping) {
            Ok(body) if gzip => {
                ResponseBody::Bytes(crate::gzip::assemble(&[crate::gzip::Segment::new(&body)]))
            }
            Ok(body) => ResponseBody::Bytes(body),
            Err(problems) => return gather_failed(&problems),
        }
    } else {
        match store.exposition() {
            Ok(stored) => {
                let parts = match format {
                    Format::Text => text_parts(&stored, &own),
                    Format::Protobuf => protobuf_parts(&stored, &own, gzip),
                };
                stream(parts, gzip)
            }
            Err(problems) => return gather_failed(&problems),
        }
    };
    let mut resp = Response::empty(Status::OK).with_header("Content-Type", &content_type);
    if gzip {
        resp = resp.with_header("Content-Encoding", "gzip");
    }
    resp.with_header("Vary", "Accept-Encoding").with_body(body)
}

/// 500 with the problems that make the store inconsistent (§7.5).
fn gather_failed(problems: &crate::store::Rejection) -> Response {
    log::error(
        "error gathering metrics",
        &[("err", &log::OneLine(problems))],
    );
    let body = format!(
        "An error has occurred while serving metrics:\n\n{}",
        problems
    );
    Response::error(Status::INTERNAL_SERVER_ERROR, &body)
}

fn store_usage(store: &Store) -> telemetry::StoreUsage {
    let (groups, series) = store.usage();
    let policy = store.policy();
    telemetry::StoreUsage {
        groups,
        series,
        max_groups: policy.max_groups,
        max_series: policy.max_series,
    }
}

/// Kept for the router's state. The renderings a scrape reuses live in the
/// store's exposition (per family, per chunk of series; see
/// `store::FamilySnapshot`), so a read costs what changed since the last
/// one plus the bytes written.
#[derive(Default)]
pub struct ScrapeCache {}

/// The body as pieces in order, gzipped as one member when asked: kept
/// pieces bring their compressed segment, consecutive fresh bytes are
/// compressed together. Nothing is concatenated; the server writes the
/// pieces one after another.
fn stream(parts: Vec<Part<'_>>, gzip: bool) -> ResponseBody {
    if !gzip {
        return ResponseBody::Pieces(
            parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Kept(piece) => Some(piece.bytes().clone()),
                    Part::Fresh(bytes) => (!bytes.is_empty()).then(|| bytes.into()),
                    // Families give compressed parts only for gzip.
                    Part::Deflated(_) => None,
                })
                .collect(),
        );
    }
    enum Seg<'a> {
        Kept(&'a crate::gzip::Segment),
        Fresh(crate::gzip::Segment),
    }
    let mut compressor = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut segments: Vec<Seg<'_>> = Vec::with_capacity(parts.len());
    let mut pending: Vec<u8> = Vec::new();
    for part in parts {
        match part {
            Part::Fresh(bytes) => pending.extend_from_slice(&bytes),
            Part::Deflated(segment) => {
                if !pending.is_empty() {
                    let seg = crate::gzip::Segment::with(&mut compressor, &pending);
                    segments.push(Seg::Fresh(seg));
                    pending.clear();
                }
                segments.push(Seg::Kept(segment));
            }
            Part::Kept(piece) => {
                if !pending.is_empty() {
                    let seg = crate::gzip::Segment::with(&mut compressor, &pending);
                    segments.push(Seg::Fresh(seg));
                    pending.clear();
                }
                if !piece.bytes().is_empty() {
                    segments.push(Seg::Kept(piece.segment()));
                }
            }
        }
    }
    if !pending.is_empty() {
        segments.push(Seg::Fresh(crate::gzip::Segment::with(
            &mut compressor,
            &pending,
        )));
    }
    let refs: Vec<&crate::gzip::Segment> = segments
        .iter()
        .map(|s| match s {
            Seg::Kept(k) => *k,
            Seg::Fresh(f) => f,
        })
        .collect();
    let mut pieces: Vec<Arc<[u8]>> = Vec::with_capacity(refs.len() + 2);
    pieces.push(Arc::from(&crate::gzip::HEADER[..]));
    pieces.extend(refs.iter().map(|s| s.deflated().clone()));
    pieces.push(crate::gzip::trailer(refs.iter().copied()).into());
    ResponseBody::Pieces(pieces)
}

/// Text 0.0.4 with underscore escaping: own families rendered for this
/// scrape (with any stored series of their names, §7.3), stored families
/// from their kept pieces, merged by name.
fn text_parts<'a>(stored: &'a [FamilySnapshot], own: &[MetricFamily]) -> Vec<Part<'a>> {
    let escaping = NameEscaping::Underscores;
    let mut parts = Vec::with_capacity(stored.len() * 4 + 16);
    let mut rest = stored.iter().peekable();
    let push_stored = |parts: &mut Vec<Part<'a>>, family: &'a FamilySnapshot| {
        if family.kind() == MetricType::GaugeHistogram {
            log::warn(
                "gauge histograms cannot be rendered in the text format; left out",
                &[("name", &family.name())],
            );
        }
        parts.extend(family.text().into_iter().map(Part::Kept));
    };
    for spec in telemetry::own_families() {
        while let Some(family) = rest.next_if(|f| f.name().as_bytes() < spec.name.as_bytes()) {
            push_stored(&mut parts, family);
        }
        let shadowed = rest.next_if(|f| f.name() == spec.name);
        let kept = shadowed.map(FamilySnapshot::metrics).unwrap_or_default();
        let mut metrics: Vec<&Metric> = own
            .iter()
            .filter(|f| f.name == spec.name)
            .flat_map(|f| f.metrics.iter())
            .chain(kept.iter())
            .collect();
        if metrics.is_empty() {
            continue;
        }
        metrics.sort_by(|a, b| series_order(a, b));
        let mut block = Vec::new();
        render_one(
            &mut block,
            spec.name,
            Some(spec.help),
            spec.kind,
            &metrics,
            escaping,
        );
        parts.push(Part::Fresh(block));
    }
    for family in rest {
        push_stored(&mut parts, family);
    }
    parts
}

/// Delimited protobuf: the same merge as [`merge`], stored families from
/// their kept pieces.
fn protobuf_parts<'a>(
    stored: &'a [FamilySnapshot],
    own: &[MetricFamily],
    gzip: bool,
) -> Vec<Part<'a>> {
    let mut parts = Vec::with_capacity(stored.len() * 4 + 16);
    let mut own_iter = own.iter().peekable();
    let mut rest = stored.iter().peekable();
    let fresh = |name: &str, help: Option<&str>, kind: MetricType, metrics: Vec<&Metric>| {
        let mut metrics = metrics;
        metrics.sort_by(|a, b| series_order(a, b));
        let family = MetricFamily {
            name: name.to_string(),
            help: help.map(str::to_string),
            kind,
            unit: None,
            metrics: metrics.into_iter().cloned().collect(),
        };
        let mut out = Vec::new();
        proto::encode_delimited(&family, &mut out);
        Part::Fresh(out)
    };
    loop {
        let take_own = match (own_iter.peek(), rest.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(o), Some(s)) => o.name.as_bytes() <= s.name().as_bytes(),
        };
        if take_own {
            let Some(o) = own_iter.next() else { break };
            let kept = rest
                .next_if(|s| s.name() == o.name)
                .map(FamilySnapshot::metrics)
                .unwrap_or_default();
            let metrics = o.metrics.iter().chain(kept.iter()).collect();
            parts.push(fresh(&o.name, o.help.as_deref(), o.kind, metrics));
        } else {
            let Some(s) = rest.next() else { break };
            match telemetry::own_families()
                .iter()
                .find(|f| f.name == s.name())
            {
                Some(r) => {
                    let kept = s.metrics();
                    parts.push(fresh(s.name(), Some(r.help), r.kind, kept.iter().collect()));
                }
                None => parts.extend(s.protobuf(gzip)),
            }
        }
    }
    parts
}

/// The whole body rendered from the decoded store, without anything kept:
/// the reference the kept pieces must equal byte for byte, and the path
/// for names written unescaped.
pub fn render_from_scratch(
    store: &Store,
    own: &[MetricFamily],
    format: Format,
    escaping: NameEscaping,
) -> Result<Vec<u8>, crate::store::Rejection> {
    let (_, gathered) = store.gather()?;
    let merged = merge(own, &gathered);
    Ok(match format {
        Format::Protobuf => render_protobuf(&merged),
        Format::Text => {
            let mut out = Vec::new();
            for f in &merged {
                if !f.metrics.is_empty() {
                    render_one(&mut out, f.name, f.help, f.kind, &f.metrics, escaping);
                }
            }
            out
        }
    })
}

fn render_one(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    kind: MetricType,
    metrics: &[&Metric],
    escaping: NameEscaping,
) {
    if kind == MetricType::GaugeHistogram {
        log::warn(
            "gauge histograms cannot be rendered in the text format; left out",
            &[("name", &name)],
        );
        return;
    }
    exposition::render::render_family(out, name, help, kind, metrics, escaping);
}

/// Merges own families and stored ones by name, sorted by name. Own names
/// keep their own type and HELP; series are sorted by number of labels,
/// then by label values position by position (a stable sort: ties keep
/// grouping-key order, then pushed order).
fn merge<'a>(
    own: &'a [MetricFamily],
    stored: &'a [crate::store::GatheredFamily],
) -> Vec<MergedFamily<'a>> {
    let mut out: Vec<MergedFamily<'a>> = Vec::with_capacity(own.len() + stored.len());
    let mut own_iter = own.iter().peekable();
    let mut stored_iter = stored.iter().peekable();
    loop {
        let take_own = match (own_iter.peek(), stored_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(o), Some(s)) => o.name.as_bytes() <= s.name.as_bytes(),
        };
        if take_own {
            let Some(o) = own_iter.next() else { break };
            let mut fam = MergedFamily {
                name: &o.name,
                help: o.help.as_deref(),
                kind: o.kind,
                metrics: o.metrics.iter().collect(),
            };
            if stored_iter.peek().is_some_and(|s| s.name == o.name) {
                if let Some(s) = stored_iter.next() {
                    fam.metrics
                        .extend(s.members.iter().flat_map(|m| m.metrics.iter()));
                }
            }
            out.push(fam);
        } else {
            let Some(s) = stored_iter.next() else { break };
            // Own families that never had a series still define the type
            // and HELP of a pushed family of that name.
            let reserved = telemetry::own_families().iter().find(|f| f.name == s.name);
            out.push(MergedFamily {
                name: &s.name,
                help: match reserved {
                    Some(r) => Some(r.help),
                    None => s.help.as_deref(),
                },
                kind: reserved.map_or(s.kind, |r| r.kind),
                metrics: s.members.iter().flat_map(|m| m.metrics.iter()).collect(),
            });
        }
    }
    for fam in &mut out {
        fam.metrics.sort_by(|a, b| series_order(a, b));
    }
    out
}

/// Fewer labels first; equal counts compare label values position by position.
fn series_order(a: &Metric, b: &Metric) -> Ordering {
    a.labels.len().cmp(&b.labels.len()).then_with(|| {
        a.labels
            .iter()
            .zip(&b.labels)
            .map(|(x, y)| x.value.as_bytes().cmp(y.value.as_bytes()))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

fn render_protobuf(families: &[MergedFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        let family = MetricFamily {
            name: f.name.to_string(),
            help: f.help.map(str::to_string),
            kind: f.kind,
            unit: None,
            metrics: f.metrics.iter().map(|m| (*m).clone()).collect(),
        };
        proto::encode_delimited(&family, &mut out);
    }
    out
}

/// Picks the format from `Accept` as upstream 1.11 (prometheus/common's
/// `expfmt.Negotiate`): media ranges by descending q, ties in header order;
/// the first range that names protobuf-delimited or text 0.0.4 wins
/// (anything else means text). The name escaping is the last known
/// `escaping=` parameter (`underscores`, `allow-utf-8`, `dots`, `values`)
/// among the ranges up to and including the winning one, `underscores` by
/// default, and the Content-Type always names it. Without
/// `--push.enable-utf8-names` every stored name is legacy-valid, so every
/// scheme writes the same bytes and only the parameter differs, as upstream.
pub fn negotiate(accept: &str, _utf8_names: bool) -> (Format, NameEscaping, String) {
    let mut escaping = NameEscaping::Underscores;
    let mut format = Format::Text;
    for r in media::parse_accept(accept) {
        if let Some(e) = r.param("escaping").and_then(NameEscaping::from_param) {
            escaping = e;
        }
        if let Some(f) = format_of(&r).filter(|_| r.q > 0.0) {
            format = f;
            break;
        }
    }
    let base = match format {
        Format::Text => media::TEXT_CONTENT_TYPE,
        Format::Protobuf => media::DELIMITED_CONTENT_TYPE,
    };
    let content_type = format!("{}; escaping={}", base, escaping.as_param());
    (format, escaping, content_type)
}

/// The format a media range names, if it names one pushgate writes.
fn format_of(range: &MediaRange) -> Option<Format> {
    let params = &range.params;
    match range.essence.as_str() {
        _ if media::is_delimited_protobuf(&range.essence, params) => Some(Format::Protobuf),
        "text/plain" if matches!(range.param("version"), None | Some("0.0.4")) => {
            Some(Format::Text)
        }
        _ => None,
    }
}

/// True if and only if `Accept-Encoding` rates gzip strictly higher than
/// identity, each taken as the highest q among entries naming it or `*`
/// (0 when neither is named), as upstream's negotiation does.
pub fn wants_gzip(accept_encoding: &str) -> bool {
    let mut gzip: Option<f32> = None;
    let mut identity: Option<f32> = None;
    let mut star: Option<f32> = None;
    for entry in accept_encoding.split(',') {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = match coding.as_str() {
            "gzip" => &mut gzip,
            "identity" => &mut identity,
            "*" => &mut star,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
    }
    let gzip_q = gzip.or(star).unwrap_or(0.0);
    let identity_q = identity.or(star).unwrap_or(0.0);
    gzip_q > identity_q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Label, Value};

    #[test]
    fn negotiation_table() {
        let pb = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        let cases: &[(&str, Format)] = &[
            ("", Format::Text),
            ("application/openmetrics-text;version=1.0.0", Format::Text),
            (pb, Format::Protobuf),
            (&format!("{pb};q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"), Format::Protobuf),
            (&format!("text/plain;version=0.0.4;q=0.8,{pb};q=0.5"), Format::Text),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", Format::Text),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept, false).0, *want, "Accept: {accept}");
        }
        assert_eq!(
            negotiate(pb, false).2,
            format!("{}; escaping=underscores", media::DELIMITED_CONTENT_TYPE)
        );
    }

    #[test]
    fn escaping_is_negotiated_as_upstream() {
        let text = media::TEXT_CONTENT_TYPE;
        let pb = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        let cases: &[(&str, NameEscaping, String)] = &[
            (
                "",
                NameEscaping::Underscores,
                format!("{text}; escaping=underscores"),
            ),
            (
                "text/plain;version=0.0.4;escaping=allow-utf-8",
                NameEscaping::AllowUtf8,
                format!("{text}; escaping=allow-utf-8"),
            ),
            (
                "text/plain;escaping=dots",
                NameEscaping::Dots,
                format!("{text}; escaping=dots"),
            ),
            (
                "text/plain;escaping=values",
                NameEscaping::Values,
                format!("{text}; escaping=values"),
            ),
            // Unknown schemes are ignored.
            (
                "text/plain;escaping=bogus",
                NameEscaping::Underscores,
                format!("{text}; escaping=underscores"),
            ),
            // A parameter on a range tried before the winning one counts too.
            (
                "application/openmetrics-text;escaping=allow-utf-8;q=0.9,text/plain;q=0.5",
                NameEscaping::AllowUtf8,
                format!("{text}; escaping=allow-utf-8"),
            ),
            // ...but not one on a range after it.
            (
                "text/plain;q=0.9,application/openmetrics-text;escaping=values;q=0.5",
                NameEscaping::Underscores,
                format!("{text}; escaping=underscores"),
            ),
            (
                &format!("{pb};escaping=allow-utf-8"),
                NameEscaping::AllowUtf8,
                format!("{}; escaping=allow-utf-8", media::DELIMITED_CONTENT_TYPE),
            ),
        ];
        for (accept, esc, ct) in cases {
            for flag in [false, true] {
                let (_, got_esc, got_ct) = negotiate(accept, flag);
                assert_eq!((got_esc, &got_ct), (*esc, ct), "Accept: {accept}");
            }
        }
    }

    #[test]
    fn gzip_preference_table() {
        let cases = [
            ("gzip", true),
            ("deflate, gzip, br", true),
            ("gzip, identity", false),
            ("*", false),
            ("", false),
            ("gzip;q=0", false),
            ("identity;q=0.5, gzip", true),
            ("GZIP", true),
        ];
        for (header, want) in cases {
            assert_eq!(wants_gzip(header), want, "Accept-Encoding: {header}");
        }
    }

    fn metric(labels: &[(&str, &str)]) -> Metric {
        Metric {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            value: Value::Untyped(1.0),
            timestamp_ms: None,
        }
    }

    #[test]
    fn series_order_by_count_then_values() {
        let a = metric(&[("instance", ""), ("job", "j11")]);
        let b = metric(&[("a", ""), ("instance", ""), ("job", "j7")]);
        assert_eq!(series_order(&a, &b), Ordering::Less);
        let c = metric(&[("a", "z"), ("instance", ""), ("job", "x")]);
        let d = metric(&[("b", "a"), ("instance", ""), ("job", "x")]);
        assert_eq!(series_order(&d, &c), Ordering::Less);
    }

    /// xorshift64: a fixed seed makes every run of the property test the same.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A random text body: families of every type (one of them an own
    /// family's name), label values that tie, prefix each other or hold
    /// escapes, and a second label name whose values tie with the first's.
    fn random_body(rng: &mut Rng) -> Vec<u8> {
        let values = ["", "1", "10", "2", "a", "a\\\\b", "a\\n", "é", "z"];
        let mut body = String::new();
        for _ in 0..1 + rng.below(4) {
            let (name, kind, help) = [
                ("a_gauge", "gauge", "# HELP a_gauge first help\n"),
                ("a_gauge", "gauge", "# HELP a_gauge other help\n"),
                ("b_total", "counter", ""),
                ("c", "untyped", ""),
                ("d_hist", "histogram", "# HELP d_hist h\n"),
                ("e_sum", "summary", ""),
                ("process_open_fds", "gauge", ""),
            ][rng.below(7)];
            if body.contains(&format!("# TYPE {name} ")) {
                continue;
            }
            body.push_str(help);
            body.push_str(&format!("# TYPE {name} {kind}\n"));
            let mut seen = Vec::new();
            for _ in 0..rng.below(6) {
                let label = rng.pick(&["x", "y", "x"]);
                let value = rng.pick(&values);
                let labels = if rng.below(4) == 0 {
                    String::new()
                } else {
                    format!("{label}=\"{value}\"")
                };
                if seen.contains(&labels) {
                    continue;
                }
                let v = rng.below(100);
                match kind {
                    "histogram" => {
                        let sep = if labels.is_empty() { "" } else { "," };
                        body.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"1\"}} {v}\n"));
                        body.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {v}\n"));
                        body.push_str(&format!("{name}_sum{{{labels}}} 2.5\n"));
                        body.push_str(&format!("{name}_count{{{labels}}} {v}\n"));
                    }
                    "summary" => {
                        let sep = if labels.is_empty() { "" } else { "," };
                        body.push_str(&format!("{name}{{{labels}{sep}quantile=\"0.5\"}} {v}\n"));
                        body.push_str(&format!("{name}_sum{{{labels}}} 1e-07\n"));
                        body.push_str(&format!("{name}_count{{{labels}}} {v}\n"));
                    }
                    _ => body.push_str(&format!("{name}{{{labels}}} {v}.5\n")),
                }
                seen.push(labels);
            }
        }
        body.into_bytes()
    }

    fn gunzip(body: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    /// The streamed scrape (kept pieces plus own families) equals a
    /// rendering from scratch byte for byte, in text, gzip and protobuf,
    /// after every step of a random sequence of PUT, POST, DELETE, expiry and
    /// restore.
    #[test]
    fn kept_pieces_equal_a_full_render_after_random_writes() {
        use crate::model::{GroupingKey, NameValidation};
        use crate::store::{CheckMode, Push, ReservedFamily};
        use std::time::Duration;

        let reserved = telemetry::own_families()
            .iter()
            .map(|f| ReservedFamily {
                name: f.name.to_string(),
                kind: f.kind,
            })
            .collect();
        let store = Store::new(reserved, CheckMode::Checked, NameValidation::Legacy);
        let mut own_fds = MetricFamily::new("process_open_fds", MetricType::Gauge);
        own_fds.help = Some("Number of open file descriptors.".into());
        own_fds.metrics.push(metric(&[]));
        own_fds.metrics[0].value = Value::Gauge(7.0);
        let own = vec![
            MetricFamily {
                help: Some("Maximum number of open file descriptors.".into()),
                ..MetricFamily::new("process_max_fds", MetricType::Gauge)
            },
            own_fds,
        ];
        let mut rng = Rng(0x5eed_1234_abcd_ef01);
        let mut now: i64 = 1_700_000_000_000_000_000;
        let mut checked = 0;
        for step in 0..400 {
            now += 1_000_000_000;
            let job = rng.pick(&["j1", "j2", "j10", "j3"]);
            let mut labels = vec![Label::new("job", job)];
            if rng.below(2) == 0 {
                labels.push(Label::new("instance", rng.pick(&["i1", "i10", "i2"])));
            }
            let key = GroupingKey::new(labels);
            match rng.below(10) {
                0 => {
                    store.delete(&key);
                }
                1 => {
                    store.expire(now - 3_000_000_000);
                }
                // As a restart from the persistence file: the exposition is
                // built again by the next read.
                2 if rng.below(4) == 0 => store.restore(store.groups()),
                _ => {
                    let Ok(families) =
                        exposition::parse::parse(&random_body(&mut rng), NameValidation::Legacy)
                    else {
                        continue;
                    };
                    store.push(Push {
                        key,
                        families,
                        replace_group: rng.below(2) == 0,
                        received_at: now,
                        ttl: (rng.below(3) == 0).then(|| Duration::from_secs(2)),
                    });
                }
            }
            // Reads do not happen after every write: several writes to the
            // same chunks between two reads must work too.
            if rng.below(3) != 0 {
                continue;
            }
            for format in [Format::Text, Format::Protobuf] {
                let want = render_from_scratch(&store, &own, format, NameEscaping::Underscores);
                let stored = store.exposition();
                let (want, stored) = match (want, stored) {
                    (Ok(w), Ok(s)) => (w, s),
                    (w, s) => panic!("step {step}: inconsistent in checked mode: {w:?} {s:?}"),
                };
                let parts = |gzip| match format {
                    Format::Text => text_parts(&stored, &own),
                    Format::Protobuf => protobuf_parts(&stored, &own, gzip),
                };
                let plain = stream(parts(false), false).to_vec();
                assert_eq!(
                    String::from_utf8_lossy(&plain),
                    String::from_utf8_lossy(&want),
                    "step {step}, {format:?}"
                );
                assert_eq!(
                    gunzip(&stream(parts(true), true).to_vec()),
                    want,
                    "step {step}"
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} comparisons");
    }
}

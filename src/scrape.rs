//! `GET <telemetry-path>`: own and stored families merged by name, rendered
//! as text 0.0.4 or delimited protobuf after content negotiation, gzipped on
//! request.
//!
//! Series order and HELP choice are deterministic (§7.2, §7.3). An
//! inconsistent store (possible only after unchecked pushes) fails the whole
//! scrape with 500, as upstream, instead of serving a partial body.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use crate::exposition::{self, NameEscaping};
use crate::http::{Request, Response};
use crate::log;
use crate::model::{Metric, MetricFamily, MetricType};
use crate::proto;
use crate::store::{GatheredFamily, Store};
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
    cache: &ScrapeCache,
    settings: ScrapeSettings,
) -> Response {
    let accept = req.header("Accept").unwrap_or("");
    let (format, escaping, content_type) = negotiate(accept, settings.utf8_names);
    let gzip = wants_gzip(req.header("Accept-Encoding").unwrap_or(""));
    let own = telemetry.families(&store_usage(store));
    let body = match format {
        Format::Text => match cache.rendered(store, escaping) {
            Ok(rendered) => rendered.body(&own, escaping, gzip),
            Err(problems) => return gather_failed(&problems),
        },
        Format::Protobuf => match store.gather() {
            Ok((_, gathered)) => {
                let merged = merge(&own, &gathered);
                let body = render_protobuf(&merged);
                if gzip {
                    crate::gzip::assemble(&[crate::gzip::Segment::new(&body)])
                } else {
                    body
                }
            }
            Err(problems) => return gather_failed(&problems),
        },
    };
    let mut resp = Response::empty(200).with_header("Content-Type", &content_type);
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
    Response::error(500, &body)
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

/// The text rendering of the stored families, kept until the store changes.
///
/// Rendering and sorting 100k series costs far more than a scrape should,
/// and most scrapes see the same store as the one before. Own metrics change
/// on every scrape, so the stored families are cut at the own family names
/// (which sort among them) into segments; a scrape renders only the own
/// families and splices them between the cached segments, compressed ones
/// too (see `gzip`).
#[derive(Default)]
pub struct ScrapeCache {
    slot: Mutex<Option<Arc<Rendered>>>,
}

struct Rendered {
    generation: u64,
    escaping: NameEscaping,
    /// `segments[i]` holds the stored families sorting between own family
    /// `i - 1` and own family `i` of [`telemetry::own_families`].
    segments: Vec<CachedSegment>,
    /// Stored families that carry an own family's name; they are rendered
    /// together with the own series on every scrape.
    shadowed: Vec<GatheredFamily>,
}

struct CachedSegment {
    text: Vec<u8>,
    deflated: OnceLock<crate::gzip::Segment>,
}

impl ScrapeCache {
    fn rendered(
        &self,
        store: &Store,
        escaping: NameEscaping,
    ) -> Result<Arc<Rendered>, crate::store::Rejection> {
        let generation = store.generation();
        {
            let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = slot.as_ref() {
                if r.generation == generation && r.escaping == escaping {
                    return Ok(r.clone());
                }
            }
        }
        let (generation, gathered) = store.gather()?;
        let rendered = Arc::new(Rendered::build(generation, gathered, escaping));
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(rendered.clone());
        Ok(rendered)
    }
}

impl Rendered {
    fn build(generation: u64, gathered: Vec<GatheredFamily>, escaping: NameEscaping) -> Rendered {
        let own = telemetry::own_families();
        let mut texts: Vec<Vec<u8>> = vec![Vec::new(); own.len() + 1];
        let mut shadowed = Vec::new();
        for family in gathered {
            match own.binary_search_by(|o| o.name.as_bytes().cmp(family.name.as_bytes())) {
                Ok(_) => shadowed.push(family),
                Err(segment) => {
                    let mut metrics: Vec<&Metric> = family
                        .members
                        .iter()
                        .flat_map(|m| m.metrics.iter())
                        .collect();
                    metrics.sort_unstable_by(|a, b| series_order(a, b));
                    render_one(
                        &mut texts[segment],
                        &family.name,
                        family.help.as_deref(),
                        family.kind,
                        &metrics,
                        escaping,
                    );
                }
            }
        }
        Rendered {
            generation,
            escaping,
            segments: texts
                .into_iter()
                .map(|text| CachedSegment {
                    text,
                    deflated: OnceLock::new(),
                })
                .collect(),
            shadowed,
        }
    }

    /// The whole body: cached segments with the own families between them.
    fn body(&self, own_values: &[MetricFamily], escaping: NameEscaping, gzip: bool) -> Vec<u8> {
        let own_blocks = self.own_blocks(own_values, escaping);
        if gzip {
            let mut compressor = flate2::Compress::new(flate2::Compression::fast(), false);
            let fresh: Vec<crate::gzip::Segment> = own_blocks
                .iter()
                .map(|b| crate::gzip::Segment::with(&mut compressor, b))
                .collect();
            let mut parts = Vec::with_capacity(self.segments.len() * 2);
            for (i, seg) in self.segments.iter().enumerate() {
                parts.push(
                    seg.deflated
                        .get_or_init(|| crate::gzip::Segment::new(&seg.text)),
                );
                if let Some(f) = fresh.get(i) {
                    parts.push(f);
                }
            }
            return crate::gzip::assemble(parts);
        }
        let total = self.segments.iter().map(|s| s.text.len()).sum::<usize>()
            + own_blocks.iter().map(Vec::len).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        for (i, seg) in self.segments.iter().enumerate() {
            out.extend_from_slice(&seg.text);
            if let Some(block) = own_blocks.get(i) {
                out.extend_from_slice(block);
            }
        }
        out
    }

    /// One rendered block per own family (empty when it has no series),
    /// own series merged with stored ones of the same name.
    fn own_blocks(&self, own_values: &[MetricFamily], escaping: NameEscaping) -> Vec<Vec<u8>> {
        telemetry::own_families()
            .iter()
            .map(|spec| {
                let mut metrics: Vec<&Metric> = own_values
                    .iter()
                    .filter(|f| f.name == spec.name)
                    .flat_map(|f| f.metrics.iter())
                    .collect();
                for s in self.shadowed.iter().filter(|s| s.name == spec.name) {
                    metrics.extend(s.members.iter().flat_map(|m| m.metrics.iter()));
                }
                let mut block = Vec::new();
                if !metrics.is_empty() {
                    metrics.sort_unstable_by(|a, b| series_order(a, b));
                    render_one(
                        &mut block,
                        spec.name,
                        Some(spec.help),
                        spec.kind,
                        &metrics,
                        escaping,
                    );
                }
                block
            })
            .collect()
    }
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
/// then by label values position by position.
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
    let mut ranges: Vec<(f32, usize, MediaRange)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, r)| MediaRange::parse(r).map(|m| (m.q, i, m)))
        .collect();
    ranges.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(&b.1))
    });
    let mut escaping = NameEscaping::Underscores;
    let mut format = Format::Text;
    for (q, _, r) in &ranges {
        if let Some(e) = r.param("escaping").and_then(NameEscaping::from_param) {
            escaping = e;
        }
        if let Some(f) = r.format().filter(|_| *q > 0.0) {
            format = f;
            break;
        }
    }
    let base = match format {
        Format::Text => exposition::TEXT_CONTENT_TYPE,
        Format::Protobuf => proto::DELIMITED_CONTENT_TYPE,
    };
    let content_type = format!("{}; escaping={}", base, escaping.as_param());
    (format, escaping, content_type)
}

struct MediaRange {
    essence: String,
    params: Vec<(String, String)>,
    q: f32,
}

impl MediaRange {
    fn parse(s: &str) -> Option<MediaRange> {
        let mut parts = s.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_string();
            if k == "q" {
                q = v.parse().unwrap_or(0.0);
            } else {
                params.push((k, v));
            }
        }
        Some(MediaRange { essence, params, q })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn format(&self) -> Option<Format> {
        match self.essence.as_str() {
            "application/vnd.google.protobuf"
                if self.param("proto") == Some("io.prometheus.client.MetricFamily")
                    && self.param("encoding") == Some("delimited") =>
            {
                Some(Format::Protobuf)
            }
            "text/plain" if matches!(self.param("version"), None | Some("0.0.4")) => {
                Some(Format::Text)
            }
            _ => None,
        }
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
            format!("{}; escaping=underscores", proto::DELIMITED_CONTENT_TYPE)
        );
    }

    #[test]
    fn escaping_is_negotiated_as_upstream() {
        let text = exposition::TEXT_CONTENT_TYPE;
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
                format!("{}; escaping=allow-utf-8", proto::DELIMITED_CONTENT_TYPE),
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
}

//! `GET <telemetry-path>`: own and stored families merged by name, rendered
//! as text 0.0.4 or delimited protobuf after content negotiation, gzipped on
//! request.
//!
//! Series order and HELP choice are deterministic (§7.2, §7.3). An
//! inconsistent store (possible only after unchecked pushes) fails the whole
//! scrape with 500, as upstream, instead of serving a partial body.

use std::cmp::Ordering;
use std::io::Write as _;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::exposition::{self, NameEscaping};
use crate::http::{Request, Response};
use crate::log;
use crate::model::{Metric, MetricFamily, MetricType};
use crate::proto;
use crate::store::Store;
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
    settings: ScrapeSettings,
) -> Response {
    let gathered = match store.gather() {
        Ok((_, families)) => families,
        Err(problems) => {
            log::error(
                "error gathering metrics",
                &[("err", &log::OneLine(&problems))],
            );
            let body = format!(
                "An error has occurred while serving metrics:\n\n{}",
                problems
            );
            return Response::error(500, &body);
        }
    };
    let own = telemetry.families();
    let merged = merge(&own, &gathered);
    let accept = req.header("Accept").unwrap_or("");
    let (format, escaping, content_type) = negotiate(accept, settings.utf8_names);
    let body = match format {
        Format::Text => render_text(&merged, escaping),
        Format::Protobuf => render_protobuf(&merged),
    };
    let mut resp = Response::empty(200).with_header("Content-Type", &content_type);
    if wants_gzip(req.header("Accept-Encoding").unwrap_or("")) {
        match gzip(&body) {
            Ok(compressed) => {
                resp = resp
                    .with_header("Content-Encoding", "gzip")
                    .with_body(compressed);
            }
            Err(e) => {
                log::warn("gzip of scrape failed; sending identity", &[("err", &e)]);
                resp = resp.with_body(body);
            }
        }
    } else {
        resp = resp.with_body(body);
    }
    resp.with_header("Vary", "Accept-Encoding")
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
                        .extend(s.members.iter().flat_map(|m| m.family.metrics.iter()));
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
                metrics: s
                    .members
                    .iter()
                    .flat_map(|m| m.family.metrics.iter())
                    .collect(),
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

fn render_text(families: &[MergedFamily], escaping: NameEscaping) -> Vec<u8> {
    let series: usize = families.iter().map(|f| f.metrics.len()).sum();
    let mut out = Vec::with_capacity(series * 64 + families.len() * 128);
    for f in families {
        if f.kind == MetricType::GaugeHistogram {
            log::warn(
                "gauge histograms cannot be rendered in the text format; left out",
                &[("name", &f.name)],
            );
            continue;
        }
        exposition::render::render_family(&mut out, f.name, f.help, f.kind, &f.metrics, escaping);
    }
    out
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

/// Picks the format from `Accept` (media ranges by descending q, ties in
/// header order; the first range that names protobuf-delimited or text
/// 0.0.4 wins; anything else means text), the name escaping, and the
/// Content-Type to send.
pub fn negotiate(accept: &str, utf8_names: bool) -> (Format, NameEscaping, String) {
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
    let format = ranges
        .iter()
        .find_map(|(q, _, r)| if *q > 0.0 { r.format() } else { None })
        .unwrap_or(Format::Text);
    let allow_utf8 = utf8_names
        && ranges
            .iter()
            .any(|(_, _, r)| r.param("escaping") == Some("allow-utf-8"));
    let escaping = if allow_utf8 {
        NameEscaping::AllowUtf8
    } else {
        NameEscaping::Underscores
    };
    let base = match format {
        Format::Text => exposition::TEXT_CONTENT_TYPE,
        Format::Protobuf => proto::DELIMITED_CONTENT_TYPE,
    };
    let content_type = if allow_utf8 {
        format!("{}; escaping=allow-utf-8", base)
    } else {
        base.to_string()
    };
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
/// identity (each taken as the highest q among entries naming it or `*`;
/// identity defaults to 1 when not mentioned at all).
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
    let identity_q = identity.or(star).unwrap_or(1.0);
    gzip_q > identity_q
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    // Level 1: a scrape is compressed once per request on a small host, where
    // CPU matters more than the last few percent of size.
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    enc.write_all(body)?;
    enc.finish()
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
        assert_eq!(negotiate(pb, false).2, proto::DELIMITED_CONTENT_TYPE);
        assert_eq!(negotiate("", false).2, exposition::TEXT_CONTENT_TYPE);
    }

    #[test]
    fn utf8_escaping_only_with_the_flag() {
        let accept = "text/plain;version=0.0.4;escaping=allow-utf-8";
        let (_, esc, ct) = negotiate(accept, true);
        assert_eq!(esc, NameEscaping::AllowUtf8);
        assert_eq!(
            ct,
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
        let (_, esc, ct) = negotiate(accept, false);
        assert_eq!(esc, NameEscaping::Underscores);
        assert_eq!(ct, exposition::TEXT_CONTENT_TYPE);
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

//! Model → text format 0.0.4 bytes, one family at a time.
//!
//! Writes straight into the caller's buffer without per-line allocations
//! (scrapes render 100k series). Sorting, merging and choosing HELP are the
//! caller's job; so is warning about the GAUGE_HISTOGRAM families left out.

use std::borrow::Cow;

use crate::exposition::{
    escape_label_name, escape_metric_name, write_escaped, write_float, write_float_text,
    write_help, write_label_value, NameEscaping,
};
use crate::model::{is_legacy_label_name, is_legacy_metric_name, Label, Metric, MetricType, Value};

/// Appends one family: `# HELP` (when `help` is `Some`), `# TYPE`, then the
/// sample lines of `metrics` in the order given (the caller sorts them).
/// GAUGE_HISTOGRAM families and families without metrics are not rendered
/// (the caller logs a warning for the former).
///
/// Lines follow each metric's value, not `kind`: a value that does not fit
/// the family type is written as its own kind would be, never a panic.
pub fn render_family(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    kind: MetricType,
    metrics: &[&Metric],
    escaping: NameEscaping,
) {
    // Upstream aborts the rest of the body here; pushgate leaves the family
    // out instead (spec §7.4, §16 #8).
    if kind == MetricType::GaugeHistogram || metrics.is_empty() {
        return;
    }
    render_header(out, name, help, kind, escaping);
    render_series(out, name, metrics.iter().copied(), escaping);
}

/// Appends the `# HELP` (when `help` is `Some`) and `# TYPE` lines of a
/// family, as [`render_family`] writes them.
pub fn render_header(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    kind: MetricType,
    escaping: NameEscaping,
) {
    let family = FamilyName::new(name, escaping);
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        family.write_bare(out);
        out.push(b' ');
        write_help(out, help);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    family.write_bare(out);
    out.push(b' ');
    out.extend_from_slice(kind.text_name().as_bytes());
    out.push(b'\n');
}

/// Appends the sample lines of `metrics` in the order given, as
/// [`render_family`] writes them after the header; the lines of a series do
/// not depend on the family's HELP or type, so the read path keeps them per
/// series and renders only the ones a write changed.
pub fn render_series<'m>(
    out: &mut Vec<u8>,
    name: &str,
    metrics: impl IntoIterator<Item = &'m Metric>,
    escaping: NameEscaping,
) {
    let family = FamilyName::new(name, escaping);
    for metric in metrics {
        write_metric(out, &family, metric);
    }
}

/// A family name as it appears in the output.
struct FamilyName<'a> {
    /// Escaped with underscores, or raw for `AllowUtf8`.
    name: Cow<'a, str>,
    /// Written as the first element inside the braces.
    quoted: bool,
    escaping: NameEscaping,
}

impl<'a> FamilyName<'a> {
    fn new(name: &'a str, escaping: NameEscaping) -> FamilyName<'a> {
        match escaping {
            NameEscaping::Underscores => FamilyName {
                name: escape_metric_name(name),
                quoted: false,
                escaping,
            },
            NameEscaping::AllowUtf8 => FamilyName {
                name: Cow::Borrowed(name),
                quoted: !is_legacy_metric_name(name),
                escaping,
            },
            NameEscaping::Dots | NameEscaping::Values => FamilyName {
                name: escaping.escape(name, is_legacy_metric_name(name)),
                quoted: false,
                escaping,
            },
        }
    }

    /// The name on HELP and TYPE lines: quoted there too when not legacy.
    fn write_bare(&self, out: &mut Vec<u8>) {
        if self.quoted {
            write_label_value(out, &self.name);
        } else {
            out.extend_from_slice(self.name.as_bytes());
        }
    }

    fn write_label_name(&self, out: &mut Vec<u8>, label: &str) {
        match self.escaping {
            NameEscaping::Underscores => {
                out.extend_from_slice(escape_label_name(label).as_bytes());
            }
            NameEscaping::AllowUtf8 if is_legacy_label_name(label) => {
                out.extend_from_slice(label.as_bytes());
            }
            NameEscaping::AllowUtf8 => write_label_value(out, label),
            NameEscaping::Dots | NameEscaping::Values => out.extend_from_slice(
                self.escaping
                    .escape(label, is_legacy_label_name(label))
                    .as_bytes(),
            ),
        }
    }

    /// One line: `name_suffix{labels,extra="bound"} value`.
    fn write_sample(
        &self,
        out: &mut Vec<u8>,
        suffix: &str,
        labels: &[Label],
        extra: Option<(&str, f64)>,
        value: f64,
    ) {
        let mut first = true;
        if self.quoted {
            out.extend_from_slice(b"{\"");
            write_escaped(out, &self.name, true);
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'"');
            first = false;
        } else {
            out.extend_from_slice(self.name.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
        }
        for label in labels {
            out.push(if first { b'{' } else { b',' });
            first = false;
            self.write_label_name(out, &label.name);
            out.push(b'=');
            write_label_value(out, &label.value);
        }
        if let Some((name, bound)) = extra {
            out.push(if first { b'{' } else { b',' });
            first = false;
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"=\"");
            write_float(out, bound);
            out.push(b'"');
        }
        if !first {
            out.push(b'}');
        }
        out.push(b' ');
        write_float_text(out, value);
        out.push(b'\n');
    }
}

fn write_metric(out: &mut Vec<u8>, family: &FamilyName<'_>, metric: &Metric) {
    let labels = &metric.labels;
    match &metric.value {
        Value::Counter(c) => family.write_sample(out, "", labels, None, c.value),
        Value::Gauge(v) | Value::Untyped(v) => family.write_sample(out, "", labels, None, *v),
        Value::Summary(s) => {
            for q in &s.quantiles {
                family.write_sample(out, "", labels, Some(("quantile", q.quantile)), q.value);
            }
            family.write_sample(out, "_sum", labels, None, s.sample_sum);
            family.write_sample(out, "_count", labels, None, s.sample_count as f64);
        }
        Value::Histogram(h) => {
            let mut inf_seen = false;
            for b in &h.buckets {
                family.write_sample(
                    out,
                    "_bucket",
                    labels,
                    Some(("le", b.upper_bound)),
                    b.count(),
                );
                inf_seen |= b.upper_bound == f64::INFINITY;
            }
            if !inf_seen {
                let inf = Some(("le", f64::INFINITY));
                family.write_sample(out, "_bucket", labels, inf, h.count());
            }
            family.write_sample(out, "_sum", labels, None, h.sum());
            family.write_sample(out, "_count", labels, None, h.count());
        }
        // Nothing sensible to show; the consistency check reports these.
        Value::Missing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;
    use crate::model::{
        Bucket, BucketSpan, Counter, Histogram, MetricFamily, NameValidation, Quantile, Summary,
    };

    fn metric(labels: &[(&str, &str)], value: Value) -> Metric {
        Metric {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            value,
            timestamp_ms: None,
        }
    }

    fn render(
        name: &str,
        help: Option<&str>,
        kind: MetricType,
        metrics: &[Metric],
        escaping: NameEscaping,
    ) -> String {
        let refs: Vec<&Metric> = metrics.iter().collect();
        let mut out = Vec::new();
        render_family(&mut out, name, help, kind, &refs, escaping);
        String::from_utf8(out).expect("rendered UTF-8")
    }

    fn plain(name: &str, kind: MetricType, metrics: &[Metric]) -> String {
        render(name, None, kind, metrics, NameEscaping::Underscores)
    }

    fn families_text(fams: &[MetricFamily], escaping: NameEscaping) -> String {
        let mut out = Vec::new();
        for f in fams {
            let refs: Vec<&Metric> = f.metrics.iter().collect();
            render_family(
                &mut out,
                &f.name,
                f.help.as_deref(),
                f.kind,
                &refs,
                escaping,
            );
        }
        String::from_utf8(out).expect("rendered UTF-8")
    }

    fn classic_histogram() -> Histogram {
        Histogram {
            sample_count: Some(17),
            sample_sum: Some(99.23),
            buckets: vec![
                Bucket {
                    cumulative_count: Some(3),
                    upper_bound: 250000.0,
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count: Some(17),
                    upper_bound: 500000.0,
                    ..Bucket::default()
                },
            ],
            ..Histogram::default()
        }
    }

    #[test]
    fn help_type_and_simple_samples() {
        let metrics = [
            metric(&[], Value::Gauge(1.5)),
            metric(&[("a", "x\\y\"z\nw"), ("b", "")], Value::Gauge(-0.0)),
        ];
        let got = render(
            "g",
            Some("line1\nback\\slash \"q\""),
            MetricType::Gauge,
            &metrics,
            NameEscaping::Underscores,
        );
        let want = "# HELP g line1\\nback\\\\slash \"q\"\n# TYPE g gauge\ng 1.5\ng{a=\"x\\\\y\\\"z\\nw\",b=\"\"} 0\n";
        assert_eq!(got, want);
    }

    #[test]
    fn no_help_line_without_help() {
        let got = plain(
            "c",
            MetricType::Counter,
            &[metric(
                &[],
                Value::Counter(Counter {
                    value: 3.0,
                    ..Counter::default()
                }),
            )],
        );
        assert_eq!(got, "# TYPE c counter\nc 3\n");
    }

    #[test]
    fn empty_help_is_still_written() {
        let got = render(
            "u",
            Some(""),
            MetricType::Untyped,
            &[metric(&[], Value::Untyped(1.0))],
            NameEscaping::Underscores,
        );
        assert_eq!(got, "# HELP u \n# TYPE u untyped\nu 1\n");
    }

    #[test]
    fn summary_quantiles_then_sum_and_count() {
        let s = Summary {
            sample_count: 7,
            sample_sum: 100.5,
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 10.0,
                },
                Quantile {
                    quantile: 0.99,
                    value: 1e21,
                },
            ],
            created: None,
        };
        let got = plain(
            "s",
            MetricType::Summary,
            &[metric(&[("job", "j")], Value::Summary(s))],
        );
        let want = "# TYPE s summary\n\
            s{job=\"j\",quantile=\"0.5\"} 10\n\
            s{job=\"j\",quantile=\"0.99\"} 1e+21\n\
            s_sum{job=\"j\"} 100.5\n\
            s_count{job=\"j\"} 7\n";
        assert_eq!(got, want);
    }

    #[test]
    fn histogram_gets_an_inf_bucket_when_missing() {
        let got = plain(
            "h",
            MetricType::Histogram,
            &[metric(
                &[("job", "j")],
                Value::Histogram(Box::new(classic_histogram())),
            )],
        );
        let want = "# TYPE h histogram\n\
            h_bucket{job=\"j\",le=\"250000\"} 3\n\
            h_bucket{job=\"j\",le=\"500000\"} 17\n\
            h_bucket{job=\"j\",le=\"+Inf\"} 17\n\
            h_sum{job=\"j\"} 99.23\n\
            h_count{job=\"j\"} 17\n";
        assert_eq!(got, want);
    }

    #[test]
    fn histogram_inf_bucket_is_not_repeated() {
        let mut h = classic_histogram();
        h.buckets.push(Bucket {
            cumulative_count: Some(20),
            upper_bound: f64::INFINITY,
            ..Bucket::default()
        });
        let got = plain(
            "h",
            MetricType::Histogram,
            &[metric(&[], Value::Histogram(Box::new(h)))],
        );
        assert_eq!(got.matches("le=\"+Inf\"").count(), 1);
        assert!(got.contains("h_bucket{le=\"+Inf\"} 20\n"));
    }

    #[test]
    fn float_histogram_prints_float_counts() {
        let h = Histogram {
            sample_count_float: Some(2.5),
            sample_sum: Some(3.0),
            buckets: vec![Bucket {
                cumulative_count_float: Some(1.5),
                upper_bound: 1.0,
                ..Bucket::default()
            }],
            ..Histogram::default()
        };
        let got = plain(
            "h",
            MetricType::Histogram,
            &[metric(&[], Value::Histogram(Box::new(h)))],
        );
        let want = "# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\nh_bucket{le=\"+Inf\"} 2.5\nh_sum 3\nh_count 2.5\n";
        assert_eq!(got, want);
    }

    #[test]
    fn native_only_histogram_shows_inf_sum_count() {
        let h = Histogram {
            sample_count_float: Some(20.0),
            sample_sum: Some(99.23),
            schema: Some(1),
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_counts: vec![2.0, 2.0],
            ..Histogram::default()
        };
        let got = plain(
            "histogram_metric",
            MetricType::Histogram,
            &[metric(&[("job", "testjob")], Value::Histogram(Box::new(h)))],
        );
        let want = "# TYPE histogram_metric histogram\n\
            histogram_metric_bucket{job=\"testjob\",le=\"+Inf\"} 20\n\
            histogram_metric_sum{job=\"testjob\"} 99.23\n\
            histogram_metric_count{job=\"testjob\"} 20\n";
        assert_eq!(got, want);
    }

    #[test]
    fn gauge_histograms_and_empty_families_render_nothing() {
        let m = [metric(&[], Value::Histogram(Box::new(classic_histogram())))];
        assert_eq!(plain("g", MetricType::GaugeHistogram, &m), "");
        assert_eq!(plain("e", MetricType::Gauge, &[]), "");
    }

    #[test]
    fn values_not_fitting_the_type_still_render() {
        let metrics = [
            metric(
                &[("k", "1")],
                Value::Counter(Counter {
                    value: 2.0,
                    ..Counter::default()
                }),
            ),
            metric(&[("k", "2")], Value::Missing),
            metric(&[("k", "3")], Value::Summary(Summary::default())),
        ];
        let got = plain("m", MetricType::Untyped, &metrics);
        let want = "# TYPE m untyped\nm{k=\"1\"} 2\nm_sum{k=\"3\"} 0\nm_count{k=\"3\"} 0\n";
        assert_eq!(got, want);
    }

    #[test]
    fn case_17_names_in_both_escapings() {
        let m = [metric(
            &[
                ("dotted.label.name", "mylabelvalue"),
                ("instance", "testinstance"),
                ("job", "testjob"),
            ],
            Value::Untyped(42.0),
        )];
        let utf8 = render(
            "another.metric",
            Some("h"),
            MetricType::Untyped,
            &m,
            NameEscaping::AllowUtf8,
        );
        let want = "# HELP \"another.metric\" h\n# TYPE \"another.metric\" untyped\n\
            {\"another.metric\",\"dotted.label.name\"=\"mylabelvalue\",instance=\"testinstance\",job=\"testjob\"} 42\n";
        assert_eq!(utf8, want);
        let legacy = render(
            "another.metric",
            Some("h"),
            MetricType::Untyped,
            &m,
            NameEscaping::Underscores,
        );
        let want = "# HELP another_metric h\n# TYPE another_metric untyped\n\
            another_metric{dotted_label_name=\"mylabelvalue\",instance=\"testinstance\",job=\"testjob\"} 42\n";
        assert_eq!(legacy, want);
    }

    #[test]
    fn utf8_suffixed_names_are_quoted_whole() {
        let s = Summary {
            sample_count: 1,
            sample_sum: 2.0,
            ..Summary::default()
        };
        let got = render(
            "my.metric",
            None,
            MetricType::Summary,
            &[metric(&[], Value::Summary(s))],
            NameEscaping::AllowUtf8,
        );
        assert_eq!(
            got,
            "# TYPE \"my.metric\" summary\n{\"my.metric_sum\"} 2\n{\"my.metric_count\"} 1\n"
        );
    }

    #[test]
    fn utf8_legacy_names_stay_bare() {
        let m = [metric(&[("a:b", "v")], Value::Gauge(1.0))];
        let got = render("x", None, MetricType::Gauge, &m, NameEscaping::AllowUtf8);
        assert_eq!(got, "# TYPE x gauge\nx{\"a:b\"=\"v\"} 1\n");
    }

    #[test]
    fn case_41_floats_through_parse_and_render() {
        let body = "a 1583781848.025745\nb 0.0001\nc 0.00001\nd 1000000\ne 123456\nf +Inf\ng NaN\nh -Inf\ni 1e21\n";
        let fams = parse(body.as_bytes(), NameValidation::Legacy).expect("parses");
        let text = families_text(&fams, NameEscaping::Underscores);
        let values: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(' ').nth(1))
            .collect();
        assert_eq!(
            values,
            [
                "1.583781848025745e+09",
                "0.0001",
                "1e-05",
                "1e+06",
                "123456",
                "+Inf",
                "NaN",
                "-Inf",
                "1e+21"
            ]
        );
    }

    #[test]
    fn parse_render_parse_round_trip() {
        let bodies = [
            "# HELP a doc with \\\\ and \\n and \"quotes\"\n# TYPE a counter\n\
             a{x=\"1\",y=\"q\\\"\\\\\\n\"} 1.5\na 2\n",
            "# TYPE g gauge\ng{instance=\"\",job=\"j\"} -3e-07\ng{z=\"Björn\"} NaN\n",
            "# TYPE s summary\ns{l=\"v\",quantile=\"0.5\"} 1\ns{l=\"v\",quantile=\"0.99\"} 2\ns_sum{l=\"v\"} 3\ns_count{l=\"v\"} 4\n",
            "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 0.7\nh_count 3\n",
            "# TYPE f histogram\nf_bucket{le=\"1\"} 0.5\nf_bucket{le=\"+Inf\"} 1.5\nf_sum 2\nf_count 1.5\n",
            "u 1e+100\nu{a=\"b\"} 0\n",
        ];
        for body in bodies {
            let first = parse(body.as_bytes(), NameValidation::Legacy).expect("parses");
            let text = families_text(&first, NameEscaping::Underscores);
            let second = parse(text.as_bytes(), NameValidation::Legacy).expect("rendering parses");
            // NaN != NaN, so compare the renderings of both parses as well.
            assert_eq!(
                families_text(&second, NameEscaping::Underscores),
                text,
                "body {body:?}"
            );
            if !body.contains("NaN") {
                assert_eq!(first, second, "body {body:?}");
            }
        }
    }

    #[test]
    fn utf8_round_trip() {
        let body = "# HELP \"my.metric\" h\n# TYPE \"my.metric\" gauge\n{\"my.metric\",\"my.label\"=\"v\",job=\"j\"} 1\n";
        let first = parse(body.as_bytes(), NameValidation::Utf8).expect("parses");
        let text = families_text(&first, NameEscaping::AllowUtf8);
        assert_eq!(text, body);
        assert_eq!(
            parse(text.as_bytes(), NameValidation::Utf8).expect("parses"),
            first
        );
    }
}

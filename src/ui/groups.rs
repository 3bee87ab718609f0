//! The metrics view: a toolbar, then one collapsible panel per group.
//!
//! A group's families are rendered into an inert `<template>` that the script
//! moves into the panel only when it is opened, so thousands of groups cost
//! the browser parsing, not layout. Values are plain decimals (§11). This
//! module renders only; filtering, staleness and deleting live in the script.

use std::fmt::Write as _;

use std::sync::Arc;

use super::{push_attr, push_text, Page, PageContext};
use crate::go;
use crate::histogram;
use crate::json;
use crate::model::{
    is_legacy_label_name, Histogram, Label, Metric, MetricFamily, Summary, Value, JOB_LABEL,
};
use crate::store::{GroupSnapshot, TimestampedFamily};

/// Staleness thresholds offered, in seconds; 0 turns highlighting off.
const STALE_CHOICES: [(u32, &str); 5] = [
    (0, "never"),
    (300, "5 min"),
    (3600, "1 h"),
    (86400, "1 day"),
    (604800, "1 week"),
];
/// Live refresh intervals offered, in seconds.
const REFRESH_CHOICES: [u32; 4] = [5, 15, 30, 60];

/// The metrics view. `families` holds, per group in order, its family
/// views as [`render_families`] writes them (kept between page loads): only
/// each group's summary line, which shows ages, is written per load.
pub(super) fn render_metrics_view(
    page: &mut Page,
    groups: &[GroupSnapshot],
    families: &[Arc<[u8]>],
    ctx: &PageContext,
) {
    let html = page.html();
    html.push_str("<main class=\"view\" id=\"metrics-view\">");
    render_toolbar(html, groups.len(), ctx.admin_api);
    let _ = write!(
        html,
        "<p class=\"summary\"><span id=\"group-count\">{}</span> \
         <span id=\"shown\"></span></p><div id=\"groups\">",
        count_text(groups.len())
    );
    for (group, families) in groups.iter().zip(families) {
        render_group_head(page.html(), group, ctx.now);
        page.splice(families);
        page.html().push_str(GROUP_END);
    }
    let html = page.html();
    html.push_str("</div><p id=\"empty\" class=\"muted\"");
    if !groups.is_empty() {
        html.push_str(" hidden");
    }
    html.push_str(">No groups to show.</p></main>\n");
}

fn count_text(n: usize) -> String {
    match n {
        1 => "1 group".to_string(),
        n => format!("{n} groups"),
    }
}

fn render_toolbar(html: &mut String, group_count: usize, admin_api: bool) {
    html.push_str(
        "<div class=\"toolbar\"><input type=\"search\" id=\"filter\" \
         placeholder=\"Filter: job, label name or value\" aria-label=\"Filter groups\" autocomplete=\"off\">\
         <label>Stale after <select id=\"stale\">",
    );
    for (seconds, text) in STALE_CHOICES {
        let selected = if seconds == 3600 { " selected" } else { "" };
        let _ = write!(
            html,
            "<option value=\"{seconds}\"{selected}>{text}</option>"
        );
    }
    html.push_str(
        "</select></label><label><input type=\"checkbox\" id=\"live\" checked> Live refresh</label>\
         <select id=\"interval\" aria-label=\"Refresh interval\">",
    );
    for seconds in REFRESH_CHOICES {
        let selected = if seconds == 30 { " selected" } else { "" };
        let _ = write!(
            html,
            "<option value=\"{seconds}\"{selected}>every {seconds} s</option>"
        );
    }
    html.push_str("</select><span id=\"updated\" class=\"muted\">updated just now</span>");
    if admin_api {
        let disabled = if group_count == 0 { " disabled" } else { "" };
        let _ = write!(
            html,
            "<button type=\"button\" id=\"wipe\" class=\"danger\"{disabled}>Delete All {group_count} Groups</button>"
        );
    }
    html.push_str("</div>");
}

/// What closes a group's panel after its family views.
const GROUP_END: &str = "</template></details>\n";

/// A group's panel up to its family views: the labels, the times (with
/// ages as of `now`) and the delete button.
fn render_group_head(html: &mut String, group: &GroupSnapshot, now: i64) {
    let labels = job_first(group.key.labels());
    // Each gauge read decodes its family: read both once (what
    // `GroupSnapshot::last_push_successful` and `last_write` compute).
    let (push_time, failure_time) = (group.push_time(), group.failure_time());
    let failed = failure_time > push_time;
    html.push_str("<details class=\"group");
    if failed {
        html.push_str(" failed");
    }
    html.push_str("\" data-labels=\"");
    push_attr(html, &labels_json(&labels));
    let _ = write!(
        html,
        "\" data-rev=\"{}\" data-last=\"{}\"><summary><span class=\"labels\">",
        revision(group),
        go::format_float(push_time.max(failure_time))
    );
    for label in &labels {
        push_badge(html, label);
    }
    html.push_str("</span><span class=\"times\">");
    if push_time > 0.0 {
        html.push_str("last pushed: ");
        push_time_and_age(html, push_time, now);
    } else {
        html.push_str("never pushed successfully");
    }
    if failed {
        html.push_str(" <span class=\"badge failed\">Last push failed!</span> at ");
        push_time_and_age(html, failure_time, now);
    }
    if let Some(deadline) = group.expires_at {
        push_expiry(html, deadline, now);
    }
    html.push_str("</span><button type=\"button\" class=\"delete-group danger\">Delete Group</button></summary><template>");
}

/// A group's family views, inside its panel's inert `<template>`: a
/// function of its families alone, so kept between page loads.
pub(super) fn render_families(group: &GroupSnapshot) -> Vec<u8> {
    let mut html = String::with_capacity(256 * group.families.len());
    for family in &group.families {
        render_family(&mut html, family);
    }
    html.into_bytes()
}

/// Changes whenever the group is written: the newest write time of its
/// families and their number. The script re-renders a group only when this
/// differs, which keeps live refresh cheap for unchanged groups.
fn revision(group: &GroupSnapshot) -> String {
    let newest = group
        .families
        .iter()
        .map(|f| f.written_at)
        .max()
        .unwrap_or(0);
    format!("{}-{}", newest, group.families.len())
}

/// `job` first, then the other labels in their (sorted) order.
fn job_first(labels: &[Label]) -> Vec<&Label> {
    let job = labels.iter().filter(|l| l.name == JOB_LABEL);
    job.chain(labels.iter().filter(|l| l.name != JOB_LABEL))
        .collect()
}

/// `[["job","a"],["instance","b"]]`: the grouping labels for the script,
/// which builds the DELETE URL from them. Pairs keep the badge order.
fn labels_json(labels: &[&Label]) -> String {
    let mut out = String::from("[");
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json::write_string_no_html(&mut out, &label.name);
        out.push(',');
        json::write_string_no_html(&mut out, &label.value);
        out.push(']');
    }
    out.push(']');
    out
}

/// `name="value"`, with the name quoted too when it is not a legacy name.
fn push_badge(html: &mut String, label: &Label) {
    html.push_str("<span class=\"badge\">");
    if is_legacy_label_name(&label.name) {
        push_text(html, &label.name);
    } else {
        html.push('"');
        push_text(html, &label.name);
        html.push('"');
    }
    html.push_str("=\"");
    push_text(html, &label.value);
    html.push_str("\"</span>");
}

/// An RFC 3339 time and, beside it, its age; the script keeps the age current.
fn push_time_and_age(html: &mut String, unix_secs: f64, now: i64) {
    let nanos = (unix_secs * 1e9) as i64;
    let stamp = go::rfc3339_seconds(nanos);
    let _ = write!(
        html,
        "<time datetime=\"{stamp}\">{stamp}</time> (<span class=\"ago\" data-t=\"{}\">{}</span>)",
        go::format_float(unix_secs),
        age_text(now as f64 / 1e9 - unix_secs)
    );
}

/// When a group with a time to live (`--push.group-ttl` or the
/// `Pushgate-Group-TTL` header) will be dropped; the script counts down.
fn push_expiry(html: &mut String, deadline_nanos: i64, now: i64) {
    let stamp = go::rfc3339_seconds(deadline_nanos);
    let left = (deadline_nanos - now) as f64 / 1e9;
    let _ = write!(
        html,
        " <span class=\"expiry\">expires <time datetime=\"{stamp}\">{stamp}</time> (<span class=\"ttl-left\" data-t=\"{}\">{}</span>)</span>",
        go::format_float(deadline_nanos as f64 / 1e9),
        ttl_text(left)
    );
}

/// "in 42 s", "in 3 min", "in 5 h", "in 2 d", or "now" once due.
pub(super) fn ttl_text(seconds: f64) -> String {
    let s = seconds.max(0.0).floor() as u64;
    match s {
        0 => "now".to_string(),
        1..=59 => format!("in {s} s"),
        60..=3599 => format!("in {} min", s / 60),
        3600..=86399 => format!("in {} h", s / 3600),
        _ => format!("in {} d", s / 86400),
    }
}

/// "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago"; the script's
/// `ago()` in functions.js words it the same way.
pub(super) fn age_text(seconds: f64) -> String {
    let s = seconds.max(0.0).floor() as u64;
    match s {
        0..=4 => "just now".to_string(),
        5..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

fn render_family(html: &mut String, tf: &TimestampedFamily) {
    let family = &tf.family();
    html.push_str("<details class=\"family\"><summary><span class=\"fname\">");
    push_text(html, &family.name);
    let _ = write!(
        html,
        "</span> <span class=\"ftype\">{}</span> <span class=\"help\">",
        family.kind.text_name()
    );
    push_text(html, family.help.as_deref().unwrap_or(""));
    let _ = write!(
        html,
        "</span> <span class=\"muted\">last pushed: {}</span></summary>",
        go::rfc3339_seconds(tf.written_at)
    );
    html.push_str(
        "<table class=\"series\"><thead><tr><th>Labels</th><th>Value</th></tr></thead><tbody>",
    );
    for metric in &family.metrics {
        render_series(html, family, metric);
    }
    html.push_str("</tbody></table></details>");
}

fn render_series(html: &mut String, family: &MetricFamily, metric: &Metric) {
    html.push_str("<tr><td>");
    for label in job_first(&metric.labels) {
        push_badge(html, label);
    }
    html.push_str("</td><td>");
    match &metric.value {
        Value::Counter(c) => html.push_str(&plain_decimal(c.value)),
        Value::Gauge(v) | Value::Untyped(v) => html.push_str(&plain_decimal(*v)),
        Value::Summary(s) => render_summary(html, s),
        Value::Histogram(h) => render_histogram(html, h),
        Value::Missing => {
            let _ = write!(
                html,
                "<span class=\"muted\">no {} value</span>",
                family.kind.text_name()
            );
        }
    }
    html.push_str("</td></tr>");
}

fn render_summary(html: &mut String, s: &Summary) {
    html.push_str("<table class=\"kv\">");
    for q in &s.quantiles {
        push_row(
            html,
            &format!("Quantile {}", plain_decimal(q.quantile)),
            &plain_decimal(q.value),
        );
    }
    push_row(html, "Sample Count", &s.sample_count.to_string());
    push_row(html, "Sample Sum", &plain_decimal(s.sample_sum));
    html.push_str("</table>");
}

fn render_histogram(html: &mut String, h: &Histogram) {
    html.push_str("<table class=\"kv\">");
    for b in &h.buckets {
        push_row(
            html,
            &format!("Sample values ≤ {}", plain_decimal(b.upper_bound)),
            &plain_decimal(b.count()),
        );
    }
    if h.is_native() {
        push_row(html, "Native histogram", &native_line(h));
    }
    push_row(html, "Total sample Count", &plain_decimal(h.count()));
    push_row(html, "Sample Sum", &plain_decimal(h.sum()));
    html.push_str("</table>");
}

fn push_row(html: &mut String, key: &str, value: &str) {
    html.push_str("<tr><th>");
    push_text(html, key);
    html.push_str("</th><td>");
    push_text(html, value);
    html.push_str("</td></tr>");
}

/// `count 7, sum 12.5, buckets [-2,-1):1 [-0.001,0.001]:2 (1,2]:4`: every
/// non-empty bucket, ascending.
pub(super) fn native_line(h: &Histogram) -> String {
    let mut out = format!(
        "count {}, sum {}, buckets",
        plain_decimal(h.count()),
        plain_decimal(h.sum())
    );
    // The same buckets and exact bounds the JSON API lists.
    let buckets = histogram::buckets_as(h, |n| n as f64, |f| f);
    if buckets.is_empty() {
        out.push_str(" none");
    }
    for b in buckets {
        let (open, close) = match b.rule {
            histogram::RULE_LEFT_OPEN => ('(', ']'),
            histogram::RULE_RIGHT_OPEN => ('[', ')'),
            histogram::RULE_OPEN => ('(', ')'),
            _ => ('[', ']'),
        };
        let _ = write!(
            out,
            " {open}{},{}{close}:{}",
            plain_decimal(b.lower),
            plain_decimal(b.upper),
            plain_decimal(b.count)
        );
    }
    out
}

/// A value as plain decimal (`1583781848.025745`, `0.00001`, `+Inf`), the
/// shortest digits that round-trip. Magnitudes beyond 1e21 or below 1e-21
/// use Go's exponent form instead of hundreds of zeros.
pub(super) fn plain_decimal(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-21..1e21).contains(&magnitude) {
        return go::format_float(v);
    }
    format!("{}", v)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Bucket, BucketSpan, Counter, GroupingKey, MetricType, Quantile};
    use crate::testutil::{helped_family, series};
    use crate::ui::render_page;
    use crate::ui::tests::context;

    fn family(name: &str, kind: MetricType, metrics: Vec<Metric>) -> Arc<TimestampedFamily> {
        let f = helped_family(name, kind, metrics);
        Arc::new(TimestampedFamily::new(&f, 1_700_000_000_000_000_000))
    }

    #[test]
    fn groups_with_a_ttl_show_when_they_expire() {
        let mut g = group(&[("job", "j")], 1000.0, 0.0);
        g.expires_at = Some(1_090_000_000_000);
        let mut html = String::new();
        render_group_head(&mut html, &g, 1_000_000_000_000);
        assert!(
            html.contains("expires <time datetime=\"1970-01-01T00:18:10Z\">"),
            "{html}"
        );
        assert!(html.contains("in 1 min"), "{html}");
        let mut plain = String::new();
        render_group_head(
            &mut plain,
            &group(&[("job", "j")], 1000.0, 0.0),
            1_000_000_000_000,
        );
        assert!(!plain.contains("expires"));
        assert_eq!(ttl_text(-5.0), "now");
        assert_eq!(ttl_text(7200.0), "in 2 h");
    }

    fn group(labels: &[(&str, &str)], push: f64, failure: f64) -> GroupSnapshot {
        let key = GroupingKey::new(labels.iter().map(|(n, v)| Label::new(*n, *v)));
        GroupSnapshot {
            key,
            families: vec![
                family(
                    "a_gauge",
                    MetricType::Gauge,
                    vec![series(labels, Value::Gauge(0.00001))],
                ),
                family(
                    "push_failure_time_seconds",
                    MetricType::Gauge,
                    vec![series(labels, Value::Gauge(failure))],
                ),
                family(
                    "push_time_seconds",
                    MetricType::Gauge,
                    vec![series(labels, Value::Gauge(push))],
                ),
            ],
            ttl: None,
            expires_at: None,
        }
    }

    fn page_for(groups: &[GroupSnapshot]) -> String {
        render_page(groups, &context())
    }

    #[test]
    fn badges_put_job_first() {
        let html = page_for(&[group(
            &[("job", "testjob"), ("instance", "testinstance")],
            1.7e9,
            0.0,
        )]);
        let job = html.find("job=\"testjob\"").expect("job badge");
        let instance = html
            .find("instance=\"testinstance\"")
            .expect("instance badge");
        assert!(job < instance);
    }

    #[test]
    fn failed_push_is_marked() {
        let html = page_for(&[group(&[("job", "j")], 1.7e9, 1.7e9 + 5.0)]);
        assert!(html.contains("Last push failed!"));
        assert!(html.contains("class=\"group failed\""));
        let ok = page_for(&[group(&[("job", "j")], 1.7e9 + 5.0, 1.7e9)]);
        assert!(!ok.contains("Last push failed!"));
    }

    #[test]
    fn label_values_are_escaped() {
        let html = page_for(&[group(&[("job", "<script>")], 1.7e9, 0.0)]);
        assert!(html.contains("job=\"&lt;script&gt;\""));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn data_labels_attribute_is_escaped_json() {
        let html = page_for(&[group(&[("job", "a\"<b"), ("x", "")], 1.7e9, 0.0)]);
        assert!(html.contains(
            "data-labels=\"[[&quot;job&quot;,&quot;a\\&quot;&lt;b&quot;],[&quot;x&quot;,&quot;&quot;]]\""
        ));
    }

    #[test]
    fn non_legacy_label_names_are_quoted() {
        let mut html = String::new();
        push_badge(&mut html, &Label::new("a.b", "v"));
        assert_eq!(html, "<span class=\"badge\">\"a.b\"=\"v\"</span>");
    }

    #[test]
    fn families_carry_name_type_help_and_time() {
        let html = page_for(&[group(&[("job", "j")], 1.7e9, 0.0)]);
        assert!(html
            .contains("<span class=\"fname\">a_gauge</span> <span class=\"ftype\">gauge</span>"));
        assert!(html.contains("help of a_gauge"));
        assert!(html.contains("last pushed: 2023-11-14T22:13:20Z"));
        assert!(html.contains("<td>0.00001</td>"));
    }

    #[test]
    fn groups_keep_store_order_and_show_count() {
        let html = page_for(&[
            group(&[("job", "a")], 1.0, 0.0),
            group(&[("job", "b")], 1.0, 0.0),
        ]);
        assert!(html.find("job=\"a\"") < html.find("job=\"b\""));
        assert!(html.contains("<span id=\"group-count\">2 groups</span>"));
    }

    #[test]
    fn wipe_button_only_with_admin_api() {
        let groups = [group(&[("job", "a")], 1.0, 0.0)];
        assert!(!page_for(&groups).contains("id=\"wipe\""));
        let ctx = PageContext {
            admin_api: true,
            ..context()
        };
        assert!(render_page(&groups, &ctx).contains("Delete All 1 Groups</button>"));
        assert!(render_page(&[], &ctx)
            .contains("id=\"wipe\" class=\"danger\" disabled>Delete All 0 Groups"));
    }

    #[test]
    fn empty_store_says_so() {
        let html = page_for(&[]);
        assert!(html.contains("<p id=\"empty\" class=\"muted\">No groups to show.</p>"));
    }

    #[test]
    fn plain_decimal_table() {
        let cases = [
            (1583781848.025745, "1583781848.025745"),
            (0.00001, "0.00001"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (42.0, "42"),
            (-0.5, "-0.5"),
            (1e300, "1e+300"),
        ];
        for (v, want) in cases {
            assert_eq!(plain_decimal(v), want, "value {v}");
        }
    }

    #[test]
    fn age_text_table() {
        let cases = [
            (-3.0, "just now"),
            (4.9, "just now"),
            (42.0, "42 s ago"),
            (200.0, "3 min ago"),
            (7200.0, "2 h ago"),
            (200000.0, "2 d ago"),
        ];
        for (s, want) in cases {
            assert_eq!(age_text(s), want, "seconds {s}");
        }
    }

    #[test]
    fn summary_rows() {
        let s = Summary {
            sample_count: 3,
            sample_sum: 1.5,
            quantiles: vec![Quantile {
                quantile: 0.5,
                value: 0.25,
            }],
            created: None,
        };
        let mut html = String::new();
        render_summary(&mut html, &s);
        assert!(html.contains("<th>Quantile 0.5</th><td>0.25</td>"));
        assert!(html.contains("<th>Sample Count</th><td>3</td>"));
        assert!(html.contains("<th>Sample Sum</th><td>1.5</td>"));
    }

    #[test]
    fn classic_histogram_rows() {
        let h = Histogram {
            sample_count: Some(4),
            sample_sum: Some(2.5),
            buckets: vec![
                Bucket {
                    cumulative_count: Some(1),
                    upper_bound: 0.1,
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count: Some(4),
                    upper_bound: f64::INFINITY,
                    ..Bucket::default()
                },
            ],
            ..Histogram::default()
        };
        let mut html = String::new();
        render_histogram(&mut html, &h);
        assert!(html.contains("<th>Sample values ≤ 0.1</th><td>1</td>"));
        assert!(html.contains("<th>Sample values ≤ +Inf</th><td>4</td>"));
        assert!(html.contains("<th>Total sample Count</th><td>4</td>"));
        assert!(html.contains("<th>Sample Sum</th><td>2.5</td>"));
        assert!(!html.contains("Native"));
    }

    /// Negative buckets 0 and 1, a zero bucket and positive bucket 1 in
    /// `schema`.
    fn native_with_schema(schema: i32) -> Histogram {
        Histogram {
            sample_count: Some(8),
            sample_sum: Some(1.0),
            schema: Some(schema),
            zero_threshold: Some(0.001),
            zero_count: Some(1),
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 2,
            }],
            negative_deltas: vec![1, 1],
            positive_spans: vec![BucketSpan {
                offset: 1,
                length: 1,
            }],
            positive_deltas: vec![4],
            ..Histogram::default()
        }
    }

    #[test]
    fn native_bounds_are_the_apis_exact_bounds() {
        // Schemas 1 and 3 use Prometheus' bound table, whose roundings
        // differ from 2^x computed directly (1.414213562373095, not
        // …0951; 0.9170040432046711, not …712).
        let cases = [
            (-1, "[-4,-1):2 [-1,-0.25):1 [-0.001,0.001]:1 (1,4]:4"),
            (0, "[-2,-1):2 [-1,-0.5):1 [-0.001,0.001]:1 (1,2]:4"),
            (
                1,
                "[-1.414213562373095,-1):2 [-1,-0.7071067811865475):1 \
                 [-0.001,0.001]:1 (1,1.414213562373095]:4",
            ),
            (
                3,
                "[-1.0905077326652577,-1):2 [-1,-0.9170040432046711):1 \
                 [-0.001,0.001]:1 (1,1.0905077326652577]:4",
            ),
        ];
        for (schema, want) in cases {
            let h = native_with_schema(schema);
            let line = native_line(&h);
            assert_eq!(
                line,
                format!("count 8, sum 1, buckets {want}"),
                "schema {schema}"
            );
            // Every bound reads as the JSON API writes it.
            for b in crate::histogram::buckets(&h) {
                let pair = format!(
                    "{},{}",
                    go::format_float(b.lower),
                    go::format_float(b.upper)
                );
                assert!(line.contains(&pair), "schema {schema}: {pair} in {line}");
            }
        }
    }

    #[test]
    fn native_histogram_one_line() {
        // Schema 0: bucket i spans (2^(i-1), 2^i]. Positive buckets 1 and 2
        // (deltas 2, +1 → counts 2, 3), a gap, bucket 5 (count 3 + -3 = 0, hidden).
        let h = Histogram {
            sample_count: Some(7),
            sample_sum: Some(12.5),
            schema: Some(0),
            zero_threshold: Some(0.001),
            zero_count: Some(2),
            positive_spans: vec![
                BucketSpan {
                    offset: 1,
                    length: 2,
                },
                BucketSpan {
                    offset: 2,
                    length: 1,
                },
            ],
            positive_deltas: vec![2, 1, -3],
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            negative_deltas: vec![1],
            ..Histogram::default()
        };
        assert_eq!(
            native_line(&h),
            "count 7, sum 12.5, buckets [-1,-0.5):1 [-0.001,0.001]:2 (1,2]:2 (2,4]:3"
        );
    }

    #[test]
    fn counter_and_missing_values() {
        let f = MetricFamily::new("c", MetricType::Counter);
        let mut html = String::new();
        render_series(
            &mut html,
            &f,
            &series(
                &[("job", "j")],
                Value::Counter(Counter {
                    value: 3.0,
                    ..Counter::default()
                }),
            ),
        );
        assert!(html.ends_with("<td>3</td></tr>"));
        let mut html = String::new();
        render_series(&mut html, &f, &series(&[], Value::Missing));
        assert!(html.contains("no counter value"));
    }
}

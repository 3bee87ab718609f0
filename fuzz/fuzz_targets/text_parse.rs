//! Text exposition parser: never panics, and whatever it accepts renders to
//! text that parses back to the same families (render ∘ parse is a fixpoint).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::exposition::{parse, NameEscaping};
use pushgate::model::{Bucket, MetricFamily, MetricType, NameValidation, Value};
use pushgate_fuzz::{comparable, render_families};

fuzz_target!(|data: &[u8]| {
    round_trip(data, NameValidation::Legacy, NameEscaping::Underscores);
    round_trip(data, NameValidation::Utf8, NameEscaping::AllowUtf8);
});

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

//! The families a text body builds: which family a sample name belongs to
//! (`x_count` and `x_sum` of a summary `x`, and `x_bucket` too of a
//! histogram), and how sample lines merge into series, summaries and
//! histograms. The byte-level reading of lines is the parent module's.

use std::collections::HashMap;

use super::{Parser, SampleLine, Step};
use crate::exposition::gosyntax::go_uint64;
use crate::gofmt::quote;
use crate::model::{
    Bucket, Counter, Histogram, Label, Metric, MetricFamily, MetricType, Quantile, Summary, Value,
};

/// Which sample of a summary or histogram a line carries, from its name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Plain,
    Count,
    Sum,
}

pub(super) struct FamilyState {
    pub(super) family: MetricFamily,
    /// Whether a TYPE line or a sample has fixed the type.
    pub(super) typed: bool,
    /// Summary/histogram series by their sorted labels (without
    /// `quantile`/`le`), so the lines of one series merge into one metric.
    series: HashMap<Vec<Label>, usize>,
}

impl FamilyState {
    pub(super) fn is_histogram(&self) -> bool {
        self.typed && self.family.kind.is_histogram()
    }

    pub(super) fn is_summary(&self) -> bool {
        self.typed && self.family.kind == MetricType::Summary
    }
}

impl Parser<'_> {
    /// Finds the family a name belongs to, creating it if needed: `x_count`
    /// and `x_sum` of a summary `x`, and `x_bucket` too of a histogram `x`,
    /// belong to `x`. Sets `self.role` accordingly.
    pub(super) fn family_for(&mut self, raw: &[u8]) -> Step<usize> {
        let name = match std::str::from_utf8(raw) {
            Ok(n) if self.names.metric_name_ok(n) => n,
            _ => return self.fail(format!("invalid metric name {}", quote(raw))),
        };
        self.role = Role::Plain;
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        let role = suffix_role(name);
        if let Some(base) = strip_suffix(name, &["_count", "_sum"]) {
            if let Some(&i) = self.by_name.get(base) {
                if self.families[i].is_summary() {
                    self.role = role;
                    return Ok(i);
                }
            }
        }
        if let Some(base) = strip_suffix(name, &["_count", "_sum", "_bucket"]) {
            if let Some(&i) = self.by_name.get(base) {
                if self.families[i].is_histogram() {
                    self.role = role;
                    return Ok(i);
                }
            }
        }
        let i = self.families.len();
        self.families.push(FamilyState {
            family: MetricFamily::new(name, MetricType::Untyped),
            typed: false,
            series: HashMap::new(),
        });
        self.by_name.insert(name.to_string(), i);
        Ok(i)
    }

    /// Like [`Self::family_for`]; a sample fixes an unset type to untyped.
    pub(super) fn sample_family(&mut self, raw: &[u8]) -> Step<usize> {
        let i = self.family_for(raw)?;
        self.families[i].typed = true;
        Ok(i)
    }

    pub(super) fn family_name(&self, family: Option<usize>) -> &str {
        family.map_or("", |i| self.families[i].family.name.as_str())
    }

    /// Stores one sample; returns the index of the metric it went into.
    pub(super) fn record(&mut self, family: usize, line: SampleLine, value: f64) -> Step<usize> {
        let kind = self.families[family].family.kind;
        let simple = match kind {
            MetricType::Counter => Some(Value::Counter(Counter {
                value,
                ..Counter::default()
            })),
            MetricType::Gauge => Some(Value::Gauge(value)),
            MetricType::Untyped => Some(Value::Untyped(value)),
            MetricType::Summary | MetricType::Histogram | MetricType::GaugeHistogram => None,
        };
        if let Some(v) = simple {
            let metrics = &mut self.families[family].family.metrics;
            metrics.push(Metric {
                labels: line.labels,
                value: v,
                timestamp_ms: None,
            });
            return Ok(metrics.len() - 1);
        }
        if kind == MetricType::Summary {
            let i = self.series(family, line.labels, || Value::Summary(Summary::default()));
            self.add_to_summary(family, i, line.bound, value);
            return Ok(i);
        }
        let counted = match self.role {
            Role::Count => Some("count"),
            Role::Plain if !line.bound.is_nan() => Some("bucket population"),
            _ => None,
        };
        if let Some(what) = counted.filter(|_| value < 0.0) {
            let name = quote(self.families[family].family.name.as_bytes());
            return self.fail(format!("negative {what} for histogram {name}"));
        }
        let i = self.series(family, line.labels, || Value::Histogram(Box::default()));
        self.add_to_histogram(family, i, line.bound, value);
        Ok(i)
    }

    /// The metric of a summary/histogram series, created on first sight.
    fn series(&mut self, family: usize, labels: Vec<Label>, empty: impl Fn() -> Value) -> usize {
        let state = &mut self.families[family];
        // Names are unique within a line, so sorted labels are a canonical
        // key; most bodies list them sorted already, which saves a clone.
        let sorted = labels.windows(2).all(|w| w[0] <= w[1]);
        let found = if sorted {
            state.series.get(&labels)
        } else {
            let mut key = labels.clone();
            key.sort_unstable();
            state.series.get(&key)
        };
        if let Some(&i) = found {
            return i;
        }
        let mut key = labels.clone();
        key.sort_unstable();
        let i = state.family.metrics.len();
        state.family.metrics.push(Metric {
            labels,
            value: empty(),
            timestamp_ms: None,
        });
        state.series.insert(key, i);
        i
    }

    fn add_to_summary(&mut self, family: usize, metric: usize, quantile: f64, value: f64) {
        let role = self.role;
        let Value::Summary(s) = &mut self.families[family].family.metrics[metric].value else {
            return;
        };
        match role {
            // Go's uint64(value), NaN and out-of-range values included.
            Role::Count => s.sample_count = go_uint64(value),
            Role::Sum => s.sample_sum = value,
            Role::Plain if !quantile.is_nan() => s.quantiles.push(Quantile { quantile, value }),
            Role::Plain => {}
        }
    }

    /// Counts are collected as floats; [`settle_histogram_counts`] turns them
    /// into integers at the end when every one of them is integral. A NaN
    /// count is taken as Go's `uint64(NaN)` (2^63), which upstream exposes,
    /// so that it renders and parses back as the same number.
    fn add_to_histogram(&mut self, family: usize, metric: usize, le: f64, value: f64) {
        let role = self.role;
        let value = if value.is_nan() {
            go_uint64(value) as f64
        } else {
            value
        };
        let Value::Histogram(h) = &mut self.families[family].family.metrics[metric].value else {
            return;
        };
        match role {
            Role::Count => h.sample_count_float = Some(value),
            Role::Sum => h.sample_sum = Some(value),
            Role::Plain if !le.is_nan() => h.buckets.push(Bucket {
                cumulative_count_float: Some(value),
                upper_bound: le,
                ..Bucket::default()
            }),
            Role::Plain => {}
        }
    }
}

/// A histogram's counts become integers if every one is a non-negative
/// integer that fits `u64`; otherwise all of them stay floats.
pub(super) fn settle_histogram_counts(h: &mut Histogram) {
    let integral = h.sample_count_float.map_or(true, fits_u64)
        && h.buckets
            .iter()
            .all(|b| b.cumulative_count_float.map_or(true, fits_u64));
    if integral {
        h.sample_count = Some(h.sample_count_float.take().unwrap_or(0.0) as u64);
        for b in &mut h.buckets {
            b.cumulative_count = Some(b.cumulative_count_float.take().unwrap_or(0.0) as u64);
        }
    } else {
        h.sample_count_float.get_or_insert(0.0);
    }
    h.sample_sum.get_or_insert(0.0);
}

fn fits_u64(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0
}

fn suffix_role(name: &str) -> Role {
    if strip_suffix(name, &["_count"]).is_some() {
        Role::Count
    } else if strip_suffix(name, &["_sum"]).is_some() {
        Role::Sum
    } else {
        Role::Plain
    }
}

/// `name` without the first matching suffix, if something remains.
fn strip_suffix<'n>(name: &'n str, suffixes: &[&str]) -> Option<&'n str> {
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s).filter(|base| !base.is_empty()))
}

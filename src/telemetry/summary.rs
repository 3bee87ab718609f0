//! The push duration and size summaries: count and sum since the start,
//! quantiles over a sliding ten-minute window of age buckets, each holding
//! a bounded reservoir sample, so memory stays flat under any push rate.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::{metric, new_family};
use crate::model::{Label, MetricFamily, Quantile, Summary, Value};

/// The summaries' quantiles (upstream objectives 0.1, 0.5, 0.9).
const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];
/// How far back the quantiles look, split into this many age buckets.
pub(super) const WINDOW: Duration = Duration::from_secs(600);
const AGE_BUCKETS: u64 = 5;
/// Raw samples kept per age bucket; beyond this, reservoir sampling keeps a
/// uniform sample so memory stays bounded under any push rate.
const SAMPLES_PER_BUCKET: usize = 500;

/// The age bucket `now` falls into, counting from `started`.
pub(super) fn epoch(started: Instant, now: Instant) -> u64 {
    let span = WINDOW.as_nanos() / u128::from(AGE_BUCKETS);
    let age = now.saturating_duration_since(started).as_nanos();
    u64::try_from(age / span).unwrap_or(u64::MAX)
}

/// The family `name` with one summary per method.
pub(super) fn summary_family(
    name: &'static str,
    summaries: &BTreeMap<String, WindowedSummary>,
    epoch: u64,
) -> MetricFamily {
    let mut family = new_family(name);
    for (method, summary) in summaries {
        family.metrics.push(metric(
            vec![Label::new("method", method.as_str())],
            Value::Summary(summary.snapshot(epoch)),
        ));
    }
    family
}

/// A summary with cumulative count and sum, and quantiles over a sliding
/// window of [`AGE_BUCKETS`] age buckets spanning [`WINDOW`].
#[derive(Debug)]
pub(super) struct WindowedSummary {
    count: u64,
    sum: f64,
    /// Oldest first; only the last [`AGE_BUCKETS`] epochs are kept.
    buckets: VecDeque<AgeBucket>,
    rng: XorShift,
}

#[derive(Debug)]
struct AgeBucket {
    epoch: u64,
    /// Observations made in this epoch, including those not kept.
    seen: u64,
    samples: Vec<f64>,
}

impl WindowedSummary {
    pub(super) fn new(seed: u32) -> WindowedSummary {
        WindowedSummary {
            count: 0,
            sum: 0.0,
            buckets: VecDeque::with_capacity(AGE_BUCKETS as usize),
            rng: XorShift::new(u64::from(seed)),
        }
    }

    pub(super) fn observe(&mut self, value: f64, epoch: u64) {
        self.count += 1;
        self.sum += value;
        self.expire(epoch);
        if self.buckets.back().map_or(true, |b| b.epoch != epoch) {
            self.buckets.push_back(AgeBucket {
                epoch,
                seen: 0,
                samples: Vec::new(),
            });
        }
        let Some(bucket) = self.buckets.back_mut() else {
            return;
        };
        bucket.seen += 1;
        if bucket.samples.len() < SAMPLES_PER_BUCKET {
            bucket.samples.push(value);
        } else {
            // Reservoir sampling: every observation of the epoch ends up kept
            // with the same probability.
            let slot = self.rng.below(bucket.seen);
            if let Some(kept) = bucket.samples.get_mut(slot as usize) {
                *kept = value;
            }
        }
    }

    /// Drops age buckets that have left the window at `epoch`.
    fn expire(&mut self, epoch: u64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| !in_window(b.epoch, epoch))
        {
            self.buckets.pop_front();
        }
    }

    fn snapshot(&self, epoch: u64) -> Summary {
        let mut weighted: Vec<(f64, f64)> = Vec::new();
        for bucket in self.buckets.iter().filter(|b| in_window(b.epoch, epoch)) {
            // Each kept sample stands for seen/kept observations.
            let weight = bucket.seen as f64 / bucket.samples.len().max(1) as f64;
            weighted.extend(bucket.samples.iter().map(|&v| (v, weight)));
        }
        Summary {
            sample_count: self.count,
            sample_sum: self.sum,
            quantiles: QUANTILES
                .iter()
                .map(|&q| Quantile {
                    quantile: q,
                    value: weighted_quantile(&mut weighted, q),
                })
                .collect(),
            created: None,
        }
    }
}

fn in_window(bucket_epoch: u64, now_epoch: u64) -> bool {
    bucket_epoch.saturating_add(AGE_BUCKETS) > now_epoch
}

/// The smallest value whose cumulative weight reaches `q` of the total; NaN
/// when there are no values.
fn weighted_quantile(values: &mut [(f64, f64)], q: f64) -> f64 {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let target = q * total;
    let mut cumulative = 0.0;
    for &(value, weight) in values.iter() {
        cumulative += weight;
        if cumulative >= target {
            return value;
        }
    }
    values.last().map_or(f64::NAN, |v| v.0)
}

/// A small PRNG for reservoir sampling; statistical quality is ample and it
/// saves a dependency.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never zero: zero is a fixed point of xorshift.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A value in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantile_values(summary: &Summary) -> Vec<(f64, f64)> {
        summary
            .quantiles
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect()
    }

    #[test]
    fn age_buckets_keep_a_bounded_sample() {
        let mut summary = WindowedSummary::new(7);
        for i in 0..5 * SAMPLES_PER_BUCKET {
            summary.observe(i as f64, 0);
        }
        assert_eq!(summary.buckets.len(), 1);
        assert_eq!(summary.buckets[0].samples.len(), SAMPLES_PER_BUCKET);
        assert_eq!(summary.buckets[0].seen, 5 * SAMPLES_PER_BUCKET as u64);
        // A uniform sample of 0..2500 has its median near 1250.
        let median = quantile_values(&summary.snapshot(0))[1].1;
        assert!((900.0..1600.0).contains(&median), "median {median}");
    }

    #[test]
    fn quantiles_weigh_samples_by_what_they_stand_for() {
        let mut values = vec![(1.0, 1.0), (3.0, 1.0), (2.0, 8.0)];
        assert_eq!(weighted_quantile(&mut values, 0.1), 1.0);
        assert_eq!(weighted_quantile(&mut values, 0.5), 2.0);
        assert_eq!(weighted_quantile(&mut values, 0.95), 3.0);
        assert!(weighted_quantile(&mut [], 0.5).is_nan());
    }
}

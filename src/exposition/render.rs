//! Model → text format 0.0.4 bytes.

use crate::exposition::NameEscaping;
use crate::model::{Metric, MetricType};

/// Appends one family: `# HELP` (when `help` is `Some`), `# TYPE`, then the
/// sample lines of `metrics` in the order given (the caller sorts them).
/// GAUGE_HISTOGRAM families are not rendered (the caller logs a warning).
pub fn render_family(
    _out: &mut Vec<u8>,
    _name: &str,
    _help: Option<&str>,
    _kind: MetricType,
    _metrics: &[&Metric],
    _escaping: NameEscaping,
) {
}

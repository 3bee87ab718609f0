//! The consistency rules of a push (§5.6) and of the stored whole (§7.5):
//! type conflicts, duplicate series across groups, suffix collisions of
//! summaries and histograms, and the problems visible from a push alone
//! (timestamps, values, label names). The store calls these under its lock;
//! the index they read (`FamilyIndex`) is kept by `index.rs`.

use super::index::{label_hash, SeriesCounts};
use super::*;

impl Store {
    pub(super) fn cross_group_problems(
        &self,
        state: &State,
        gid: &GroupId,
        families: &[MetricFamily],
        replace_group: bool,
    ) -> Vec<String> {
        let group = state.groups.get(gid);
        let pushed: HashMap<&str, MetricType> =
            families.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        // A family of the pushing group that this push replaces does not count
        // as existing; kept families (POST) do.
        let replaced = |name: &str| replace_group || pushed.contains_key(name);
        let existing_type = |name: &str| -> Option<MetricType> {
            if let Some(kind) = self.reserved.get(name) {
                return Some(*kind);
            }
            let idx = state.index.get(name)?;
            let mut counts = idx.type_counts;
            if let Some(own) = group.and_then(|g| g.families.get(name)) {
                if replaced(name) {
                    counts[own.kind() as usize] -= 1;
                }
            }
            MetricType::ALL
                .into_iter()
                .find(|t| counts[*t as usize] > 0)
        };
        let mut problems = Vec::new();
        // Summaries/histograms already reported, with the pushed families naming them.
        let mut collided: Vec<(String, Vec<&str>)> = Vec::new();
        for family in families {
            let name = family.name.as_str();
            if let Some(own) = self.reserved.get(name) {
                if *own != family.kind {
                    problems.push(format!(
                        "gathered metric family {} has type {} but should have {}",
                        name, family.kind, own
                    ));
                    continue;
                }
            } else if let Some(existing) = existing_type(name) {
                if existing != family.kind {
                    for m in &family.metrics {
                        problems.push(format!(
                            "collected metric {:?} {{ {} }} is not a {}",
                            name,
                            metric_dump(m),
                            existing
                        ));
                    }
                    continue;
                }
            }
            // Suffix collisions, against stored families and the rest of the push.
            let exists = |n: &str| -> Option<MetricType> {
                pushed.get(n).copied().or_else(|| existing_type(n))
            };
            if let Some((base, p)) = suffix_collision(name, family.kind, exists) {
                // One problem per summary or histogram, as upstream: several
                // pushed `x_count`/`x_sum` against one `x` are one collision.
                match collided.iter().position(|(b, _)| *b == base) {
                    None => {
                        collided.push((base, vec![name]));
                        problems.push(p);
                    }
                    Some(i) => collided[i].1.push(name),
                }
                continue;
            }
            self.duplicate_problems(state, gid, family, replace_group, &mut problems);
        }
        for (base, members) in collided.iter().filter(|(_, m)| m.len() > 1) {
            let Some(kind) = pushed
                .get(base.as_str())
                .copied()
                .or_else(|| existing_type(base))
            else {
                continue;
            };
            let among = |n: &str| members.contains(&n).then_some(MetricType::Untyped);
            if let (Some(merged), Some(first)) = (
                suffix_as_base(base, kind, &among),
                suffix_collision_text(&problems, base),
            ) {
                problems[first] = merged;
            }
        }
        problems
    }

    /// Series of `family` whose exact label set another group already holds
    /// under the same family name.
    fn duplicate_problems(
        &self,
        state: &State,
        gid: &GroupId,
        family: &MetricFamily,
        replace_group: bool,
        problems: &mut Vec<String>,
    ) {
        let Some(idx) = state.index.get(&family.name) else {
            return;
        };
        // This group's own copy of the family is always replaced by the push
        // (PUT replaces everything, POST the families it names).
        let _ = replace_group;
        let mut own_hashes = SeriesCounts::default();
        if let Some(own) = state
            .groups
            .get(gid)
            .and_then(|g| g.families.get(&family.name))
        {
            for m in &own.family().metrics {
                *own_hashes.entry(label_hash(&m.labels)).or_default() += 1;
            }
        }
        for m in &family.metrics {
            let h = label_hash(&m.labels);
            let stored = idx.series.get(&h).copied().unwrap_or(0);
            let mine = own_hashes.get(&h).copied().unwrap_or(0);
            if stored <= mine {
                continue;
            }
            // A hash hit: confirm with an exact comparison (collisions are
            // astronomically rare, so this scan almost never runs in vain).
            let duplicate = idx.groups.iter().filter(|g| *g != gid).any(|g| {
                state
                    .groups
                    .get(g)
                    .and_then(|g| g.families.get(&family.name))
                    .is_some_and(|f| f.family().metrics.iter().any(|o| o.labels == m.labels))
            });
            if duplicate {
                problems.push(duplicate_message(&family.name, m));
            }
        }
    }
}

impl State {
    /// Problems that make a scrape fail: type conflicts, duplicate series and
    /// suffix collisions across groups. Cheap when there are none: duplicates
    /// are only searched in families whose hash index has shared entries.
    pub(super) fn inconsistencies(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, idx) in &self.index {
            let types: Vec<MetricType> = idx.types_in_use().collect();
            if types.len() > 1 {
                self.type_conflicts_in(name, idx, &mut problems);
                continue;
            }
            if let Some(kind) = types.first() {
                // Reported once, from the summary's or histogram's side, as
                // upstream's scrape does (the member's side would repeat it).
                let exists = |n: &str| self.index.get(n).and_then(|i| i.types_in_use().next());
                if let Some(p) = suffix_as_base(name, *kind, &exists) {
                    problems.push(p);
                    continue;
                }
            }
            if idx.shared_hashes > 0 {
                self.duplicates_in(name, idx, &mut problems);
            }
        }
        problems
    }

    /// Upstream's wording for a family stored with different types: every
    /// series of a group whose type differs from that of the first holding
    /// group (in grouping-key order) "is not a" that type.
    fn type_conflicts_in(&self, name: &str, idx: &FamilyIndex, problems: &mut Vec<String>) {
        let mut first: Option<MetricType> = None;
        for gid in &idx.groups {
            let Some(f) = self.groups.get(gid).and_then(|g| g.families.get(name)) else {
                continue;
            };
            let Some(want) = first else {
                first = Some(f.kind());
                continue;
            };
            if f.kind() != want {
                for m in f.family().metrics {
                    problems.push(format!(
                        "collected metric {:?} {{ {} }} is not a {}",
                        name,
                        metric_dump(&m),
                        want
                    ));
                }
            }
        }
    }

    fn duplicates_in(&self, name: &str, idx: &FamilyIndex, problems: &mut Vec<String>) {
        let mut seen: HashMap<Vec<Label>, ()> = HashMap::new();
        for gid in &idx.groups {
            let Some(f) = self.groups.get(gid).and_then(|g| g.families.get(name)) else {
                continue;
            };
            for m in f.family().metrics {
                if seen.insert(m.labels.clone(), ()).is_some() {
                    problems.push(duplicate_message(name, &m));
                }
            }
        }
    }
}

/// The suffix-collision problem for a family `name` of type `kind`, given a
/// lookup of the types of other existing families (client_golang's registry
/// rules, which upstream applies to the merged exposition), with the name of
/// the summary or histogram involved (the key upstream reports one error by).
fn suffix_collision(
    name: &str,
    kind: MetricType,
    exists: impl Fn(&str) -> Option<MetricType>,
) -> Option<(String, String)> {
    suffix_as_member(name, &exists)
        .or_else(|| suffix_as_base(name, kind, &exists).map(|p| (name.to_string(), p)))
}

/// `name` is `x_count`, `x_sum` or `x_bucket` of an existing summary or histogram `x`.
fn suffix_as_member(
    name: &str,
    exists: &impl Fn(&str) -> Option<MetricType>,
) -> Option<(String, String)> {
    for suffix in ["_count", "_sum", "_bucket"] {
        let Some(base) = name.strip_suffix(suffix) else {
            continue;
        };
        match exists(base) {
            Some(MetricType::Summary) if suffix != "_bucket" => {
                return Some((
                    base.to_string(),
                    format!(
                        "collected metric named {:?} collides with previously collected summary named {:?}",
                        name, base
                    ),
                ))
            }
            Some(t) if t.is_histogram() => {
                return Some((
                    base.to_string(),
                    format!(
                        "collected metric named {:?} collides with previously collected histogram named {:?}",
                        name, base
                    ),
                ))
            }
            _ => {}
        }
    }
    None
}

/// `name` is a summary or histogram whose `_count`, `_sum` (or, for a
/// histogram, `_bucket`) family exists; checked in client_golang's order.
fn suffix_as_base(
    name: &str,
    kind: MetricType,
    exists: &impl Fn(&str) -> Option<MetricType>,
) -> Option<String> {
    if kind == MetricType::Summary || kind.is_histogram() {
        for suffix in ["_count", "_sum"] {
            let other = format!("{}{}", name, suffix);
            if exists(&other).is_some() {
                return Some(format!(
                    "collected histogram or summary named {:?} collides with previously collected metric named {:?}",
                    name, other
                ));
            }
        }
    }
    if kind.is_histogram() {
        let other = format!("{}_bucket", name);
        if exists(&other).is_some() {
            return Some(format!(
                "collected histogram named {:?} collides with previously collected metric named {:?}",
                name, other
            ));
        }
    }
    None
}

/// Index of the suffix-collision problem that names `base` as the summary or
/// histogram (the member-side wording ends with `named "<base>"`).
fn suffix_collision_text(problems: &[String], base: &str) -> Option<usize> {
    let tail = format!("named {:?}", base);
    problems
        .iter()
        .position(|p| p.starts_with("collected ") && p.contains("collides") && p.ends_with(&tail))
}

fn duplicate_message(name: &str, m: &Metric) -> String {
    format!(
        "collected metric {:?} {{ {} }} was collected before with the same name and label values",
        name,
        metric_dump(m)
    )
}

/// Problems visible from the push alone: timestamps (which reject the push
/// on their own, as upstream), value kinds, label names, the `quantile`
/// label on summaries, and series repeated within the push.
pub(super) fn local_problems(families: &[MetricFamily], names: NameValidation) -> Vec<String> {
    if families
        .iter()
        .any(|f| f.metrics.iter().any(|m| m.timestamp_ms.is_some()))
    {
        return vec!["pushed metrics must not have timestamps".to_string()];
    }
    let mut problems = Vec::new();
    for f in families {
        let mut seen: HashMap<&[Label], ()> = HashMap::with_capacity(f.metrics.len());
        for m in &f.metrics {
            let before = problems.len();
            check_metric(f, m, names, &mut problems);
            if problems.len() == before && seen.insert(&m.labels, ()).is_some() {
                problems.push(duplicate_message(&f.name, m));
            }
        }
    }
    problems
}

fn check_metric(f: &MetricFamily, m: &Metric, names: NameValidation, problems: &mut Vec<String>) {
    let dump = || metric_dump(m);
    if !m.value.fits(f.kind) {
        problems.push(format!(
            "collected metric {:?} {{ {} }} is not a {}",
            f.name,
            dump(),
            f.kind
        ));
        return;
    }
    for (i, l) in m.labels.iter().enumerate() {
        if !names.label_name_ok(&l.name) || l.name.starts_with("__") {
            problems.push(format!(
                "collected metric {:?} {{ {} }} has a label with an invalid name: {}",
                f.name,
                dump(),
                l.name
            ));
            return;
        }
        if m.labels[..i].iter().any(|o| o.name == l.name) {
            problems.push(format!(
                "collected metric {:?} {{ {} }} has two or more labels with the same name: {}",
                f.name,
                dump(),
                l.name
            ));
            return;
        }
    }
    if f.kind == MetricType::Summary && m.labels.iter().any(|l| l.name == "quantile") {
        problems.push(format!(
            "collected metric {:?} {{ {} }} must not have an explicit \"quantile\" label",
            f.name,
            dump()
        ));
    }
}

/// A one-line dump of a series in the style of upstream's error messages,
/// e.g. `label:{name:"job" value:"j"} gauge:{value:1}`.
fn metric_dump(m: &Metric) -> String {
    let mut out = String::new();
    for l in &m.labels {
        let _ = write!(out, "label:{{name:{:?} value:{:?}}} ", l.name, l.value);
    }
    let num = crate::go::format_float;
    let _ = match &m.value {
        Value::Counter(c) => write!(out, "counter:{{value:{}}}", num(c.value)),
        Value::Gauge(v) => write!(out, "gauge:{{value:{}}}", num(*v)),
        Value::Untyped(v) => write!(out, "untyped:{{value:{}}}", num(*v)),
        Value::Summary(s) => write!(
            out,
            "summary:{{sample_count:{} sample_sum:{}}}",
            s.sample_count,
            num(s.sample_sum)
        ),
        Value::Histogram(h) => write!(
            out,
            "histogram:{{sample_count:{} sample_sum:{}}}",
            num(h.count()),
            num(h.sum())
        ),
        Value::Missing => write!(out, "no value"),
    };
    out.trim_end().to_string()
}

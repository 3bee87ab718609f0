//! The store under a sequence of pushes of parsed bodies: never panics; a
//! rejected push changes nothing but the group's failure gauge; after any
//! accepted push (checked mode) the store gathers without inconsistencies
//! and its scrape text parses.
//!
//! Input: up to four pushes separated by `\n--\n` (a line no valid text
//! body has; NUL would cut protobuf doubles). The first byte of each
//! is a control byte: bit 0 = PUT (else POST), bits 1-2 = which of three
//! grouping keys, bit 3 = protobuf body (else text); the rest is the body.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pushgate::exposition::NameEscaping;
use pushgate::model::{
    GroupingKey, Label, MetricFamily, MetricType, NameValidation, PUSH_FAILURE_TIME_METRIC,
    PUSH_TIME_METRIC,
};
use pushgate::store::{CheckMode, Push, PushOutcome, ReservedFamily, Store};
use pushgate_fuzz::render_families;

const MAX_PUSHES: usize = 4;
const SEPARATOR: &[u8] = b"\n--\n";
/// Unix nanoseconds of the first push; each later push is one second on.
const START_NANOS: i64 = 1_700_000_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let store = Store::new(
        vec![ReservedFamily {
            name: "process_open_fds".to_string(),
            kind: MetricType::Gauge,
        }],
        CheckMode::Checked,
        NameValidation::Legacy,
    );
    for (i, chunk) in split_pushes(data).into_iter().enumerate() {
        let Some((&control, body)) = chunk.split_first() else {
            continue;
        };
        let Some(families) = parse_body(body, control & 8 != 0) else {
            continue;
        };
        let key = grouping_key(control >> 1);
        let received_at = START_NANOS + i as i64 * 1_000_000_000;
        let before = snapshot(&store);
        let outcome = store.push(Push {
            key: key.clone(),
            families,
            replace_group: control & 1 != 0,
            received_at,
            ttl: None,
        });
        match outcome {
            PushOutcome::Applied => check_scrape(&store),
            PushOutcome::Rejected(_) => check_only_failure_changed(&store, before, &key),
            PushOutcome::OverBudget(msg) => panic!("over budget without a budget: {msg}"),
        }
        // The JSON API renders every stored value; it must not panic either.
        let _ = pushgate::api::metrics(&store.groups());
    }
});

fn split_pushes(data: &[u8]) -> Vec<&[u8]> {
    let mut pushes = Vec::new();
    let mut rest = data;
    while pushes.len() + 1 < MAX_PUSHES {
        let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) else {
            break;
        };
        pushes.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    pushes.push(rest);
    pushes
}

fn parse_body(body: &[u8], protobuf: bool) -> Option<Vec<MetricFamily>> {
    if protobuf {
        pushgate::proto::decode_delimited(body, NameValidation::Legacy).ok()
    } else {
        pushgate::exposition::parse(body, NameValidation::Legacy).ok()
    }
}

fn grouping_key(choice: u8) -> GroupingKey {
    match choice & 3 {
        0 => GroupingKey::new([Label::new("job", "a")]),
        1 => GroupingKey::new([Label::new("job", "a"), Label::new("instance", "x")]),
        _ => GroupingKey::new([Label::new("job", "b")]),
    }
}

/// Group sort key → (key, TTL, deadline, family name → family with its
/// write time), all as `Debug` text so that NaN values compare equal.
type Snapshot = BTreeMap<Vec<u8>, (String, BTreeMap<String, String>)>;

fn snapshot(store: &Store) -> Snapshot {
    store
        .groups()
        .into_iter()
        .map(|g| {
            let families = g
                .families
                .iter()
                .map(|f| (f.name().to_string(), format!("{:?}", f)))
                .collect();
            let head = format!("{:?} ttl={:?} expires={:?}", g.key, g.ttl, g.expires_at);
            (g.key.sort_key(), (head, families))
        })
        .collect()
}

fn check_only_failure_changed(store: &Store, mut before: Snapshot, key: &GroupingKey) {
    let mut after = snapshot(store);
    let gid = key.sort_key();
    let (_, families) = after
        .get_mut(&gid)
        .unwrap_or_else(|| panic!("rejected push did not record its group {key}"));
    assert!(
        families.remove(PUSH_FAILURE_TIME_METRIC).is_some(),
        "rejected push left no failure gauge in {key}"
    );
    match before.get_mut(&gid) {
        Some((_, families)) => {
            families.remove(PUSH_FAILURE_TIME_METRIC);
        }
        None => {
            // A new group holds only the two gauges; push time 0 is checked
            // through its presence (its value is the group's business).
            let (_, families) = &after[&gid];
            let names: Vec<&String> = families.keys().collect();
            assert_eq!(names, [PUSH_TIME_METRIC], "new group after a rejected push");
            after.remove(&gid);
        }
    }
    assert_eq!(before, after, "a rejected push changed the store");
}

fn check_scrape(store: &Store) {
    let (_, gathered) = store
        .gather()
        .unwrap_or_else(|r| panic!("checked store became inconsistent: {r}"));
    let families: Vec<MetricFamily> = gathered
        .iter()
        .map(|g| MetricFamily {
            name: g.name.clone(),
            help: g.help.clone(),
            kind: g.kind,
            unit: None,
            metrics: g
                .members
                .iter()
                .flat_map(|m| m.metrics.iter().cloned())
                .collect(),
        })
        .collect();
    let text = render_families(&families, NameEscaping::Underscores);
    if let Err(e) = pushgate::exposition::parse(&text, NameValidation::Legacy) {
        panic!(
            "scrape text of a consistent store does not parse: {e}\n{}",
            String::from_utf8_lossy(&text)
        );
    }
}

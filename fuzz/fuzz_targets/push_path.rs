//! Push URL grammar: never panics; an accepted path yields a key with a
//! non-empty `job` and valid label names, and writing that key back as an
//! all-base64 path parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::model::{GroupingKey, NameValidation, JOB_LABEL};
use pushgate::push::grouping_key_from_path;
use pushgate_fuzz::base64url;

fuzz_target!(|data: &[u8]| {
    for names in [NameValidation::Legacy, NameValidation::Utf8] {
        for job_is_base64 in [false, true] {
            if let Ok(key) = grouping_key_from_path(data, job_is_base64, names) {
                check_key(&key, names);
                check_round_trip(&key, names);
            }
        }
    }
});

fn check_key(key: &GroupingKey, names: NameValidation) {
    assert!(
        key.get(JOB_LABEL).is_some_and(|job| !job.is_empty()),
        "accepted key without a job: {key}"
    );
    for label in key.labels() {
        assert!(names.label_name_ok(&label.name), "bad label name in {key}");
        assert!(
            !label.name.starts_with("__"),
            "reserved label name in {key}"
        );
    }
}

fn check_round_trip(key: &GroupingKey, names: NameValidation) {
    let path = all_base64_path(key, names);
    let again = grouping_key_from_path(path.as_bytes(), true, names)
        .unwrap_or_else(|e| panic!("{names:?}: {path:?} (written from {key}) rejected: {e}"));
    assert_eq!(&again, key, "{names:?}: {path:?}");
}

/// `/<job>/<name>@base64/<value>...` with every value base64url-encoded
/// and, in UTF-8 mode, every name `U__`-escaped (names may hold `/`).
fn all_base64_path(key: &GroupingKey, names: NameValidation) -> String {
    let job = key.get(JOB_LABEL).unwrap_or_default();
    let mut path = format!("/{}", base64url(job.as_bytes()));
    for label in key.labels().iter().filter(|l| l.name != JOB_LABEL) {
        path.push_str(&format!(
            "/{}@base64/{}",
            written_name(&label.name, names),
            base64url(label.value.as_bytes())
        ));
    }
    path
}

fn written_name(name: &str, names: NameValidation) -> String {
    if names == NameValidation::Legacy {
        return name.to_string();
    }
    let mut out = String::from("U__");
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("_{:x}_", u32::from(c))),
        }
    }
    out
}

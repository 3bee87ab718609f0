//! Upstream Pushgateway's persistence file (gob): never panics, and an
//! accepted file yields groups that each have a non-empty `job`, unique
//! family names, and families whose stored encoding decodes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::model::JOB_LABEL;
use pushgate::persist::upstream::decode;

fuzz_target!(|data: &[u8]| {
    let Ok(import) = decode(data) else {
        return;
    };
    let mut families = 0;
    for group in &import.groups {
        let key = &group.snapshot.key;
        assert!(
            key.get(JOB_LABEL).is_some_and(|job| !job.is_empty()),
            "imported group without a job: {key}"
        );
        let names: Vec<&str> = group.snapshot.families.iter().map(|f| f.name()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "families not unique and sorted in {key}");
        for f in &group.snapshot.families {
            assert!(pushgate::proto::decode_family(f.encoded()).is_ok());
        }
        families += names.len();
    }
    assert_eq!(families, import.families);
});

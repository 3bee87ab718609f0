//! Delimited protobuf decoder: never panics, and whatever it accepts encodes
//! to bytes that decode to the same families.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::model::NameValidation;
use pushgate::proto::{decode_delimited, encode_delimited};
use pushgate_fuzz::comparable;

fuzz_target!(|data: &[u8]| {
    for names in [NameValidation::Legacy, NameValidation::Utf8] {
        let Ok(families) = decode_delimited(data, names) else {
            continue;
        };
        let mut encoded = Vec::new();
        for family in &families {
            encode_delimited(family, &mut encoded);
        }
        let again = decode_delimited(&encoded, names)
            .unwrap_or_else(|e| panic!("{names:?}: re-encoded families do not decode: {e}"));
        assert_eq!(
            comparable(&families),
            comparable(&again),
            "{names:?}: families changed by encode + decode"
        );
    }
});

//! Delimited protobuf decoder: never panics, and whatever it accepts encodes
//! to bytes that decode to the same families.
//! The checks live in `pushgate_fuzz::targets`, so `cargo test` replays
//! regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::proto_decode(data));

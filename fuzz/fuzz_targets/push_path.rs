//! Push URL grammar: never panics; an accepted path yields a key with a
//! non-empty `job` and valid label names, and writing that key back as an
//! all-base64 path parses to the same key.
//! The checks live in `pushgate_fuzz::targets`, so `cargo test` replays
//! regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::push_path(data));

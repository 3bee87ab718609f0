//! Request heads: never panics; an accepted head is self-delimiting, has
//! clean fields and framing that agrees with them. The checks live in
//! `pushgate_fuzz::targets`, so `cargo test` replays regressions through the
//! same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::http_head(data));

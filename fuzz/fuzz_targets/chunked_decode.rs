//! The chunked decoder: never panics, and gives the same result however its
//! input is split. The checks live in `pushgate_fuzz::targets`, so `cargo
//! test` replays regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::chunked_decode(data));

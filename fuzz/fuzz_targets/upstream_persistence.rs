//! Upstream Pushgateway's persistence file (gob): never panics, and what it
//! accepts is a usable store. The checks live in `pushgate_fuzz::targets`, so
//! `cargo test` replays regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::upstream_persistence(data));

//! Request body decoding (gzip, framed snappy): never panics, never returns
//! more than the limit, never holds much more memory than the limit, and
//! agrees with a decode under a larger limit.
//! The checks live in `pushgate_fuzz::targets`, so `cargo test` replays
//! regressions through the same code (there without the heap bound).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate_fuzz::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::body_decode(data, Some(&ALLOC)));

//! Text exposition parser: never panics, and whatever it accepts renders to
//! text that parses back to the same families (render ∘ parse is a fixpoint).
//! The checks live in `pushgate_fuzz::targets`, so `cargo test` replays
//! regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::text_parse(data));

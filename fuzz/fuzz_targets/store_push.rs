//! The store under a sequence of pushes of parsed bodies: never panics; a
//! rejected push changes nothing but the group's failure gauge; after any
//! accepted push (checked mode) the store gathers without inconsistencies
//! and its scrape text parses.
//!
//! Input: up to four pushes separated by `\n--\n` (a line no valid text
//! body has; NUL would cut protobuf doubles). The first byte of each
//! is a control byte: bit 0 = PUT (else POST), bits 1-2 = which of three
//! grouping keys, bit 3 = protobuf body (else text); the rest is the body.
//! The checks live in `pushgate_fuzz::targets`, so `cargo test` replays
//! regressions through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pushgate_fuzz::targets::store_push(data));

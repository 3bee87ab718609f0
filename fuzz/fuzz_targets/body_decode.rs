//! Request body decoding (gzip, framed snappy): never panics, never returns
//! more than the limit, never holds much more memory than the limit, and
//! agrees with a decode under a larger limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::body::{decode, BodyError};
use pushgate_fuzz::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

/// The limit under test: small, so that bombs are cheap to find.
const LIMIT: u64 = 4096;
/// A limit no input of libFuzzer's default length can reach except by a bomb.
const LARGE_LIMIT: u64 = 1 << 20;
/// What a decoder may hold besides its output: gzip's 32 KiB window and
/// state, snappy's two 64 KiB block buffers.
const DECODER_OVERHEAD: usize = 256 * 1024;
/// The output grows by doubling up to about twice the limit, and while it
/// is reallocated the old and the new buffer are both live.
const OUTPUT_FACTOR: usize = 3;

fuzz_target!(|data: &[u8]| {
    for encoding in ["gzip", "snappy"] {
        let small = bounded(data, encoding, LIMIT);
        let large = bounded(data, encoding, LARGE_LIMIT);
        agree(&small, &large, encoding);
    }
});

/// Decodes under `limit`, checking the output size and the peak memory.
fn bounded(data: &[u8], encoding: &str, limit: u64) -> Result<Vec<u8>, BodyError> {
    let body = data.to_vec();
    ALLOC.reset_peak();
    let before = ALLOC.live();
    let result = decode(body, Some(encoding), limit);
    let held = ALLOC.peak().saturating_sub(before);
    let allowed = OUTPUT_FACTOR * limit as usize + DECODER_OVERHEAD;
    assert!(
        held <= allowed,
        "{encoding}: decoding held {held} bytes, more than {allowed} for limit {limit}"
    );
    if let Ok(out) = &result {
        assert!(
            out.len() as u64 <= limit,
            "{encoding}: {} bytes over limit {limit}",
            out.len()
        );
    }
    result
}

/// A decode under the small limit must be the large decode cut short.
fn agree(small: &Result<Vec<u8>, BodyError>, large: &Result<Vec<u8>, BodyError>, encoding: &str) {
    match (small, large) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{encoding}: output depends on the limit"),
        // The stream may be corrupt only after the small limit's end.
        (Err(BodyError::TooLarge { .. }), _) => {}
        (Ok(a), Err(e)) => panic!(
            "{encoding}: {} bytes under the small limit, {e} under the large",
            a.len()
        ),
        (Err(e), Ok(b)) if b.len() as u64 <= LIMIT => {
            panic!(
                "{encoding}: {e} under the small limit, {} bytes under the large",
                b.len()
            )
        }
        (Err(BodyError::Corrupt { .. }), Ok(_)) => {
            panic!("{encoding}: corrupt under the small limit but not under the large")
        }
        (Err(BodyError::Corrupt { .. }), Err(_)) => {}
    }
}

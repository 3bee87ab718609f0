//! Helpers shared by the fuzz targets: rendering parsed families back to
//! text, comparing families with NaN-tolerant equality, base64url for path
//! round trips, and an allocator that records peak live bytes.
//!
//! Owns no checks itself; each target in `fuzz_targets/` states its own
//! properties. Nothing here is part of the pushgate binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pushgate::exposition::render::render_family;
use pushgate::exposition::NameEscaping;
use pushgate::model::{Metric, MetricFamily};

/// Every family as a scrape would write it, in the given order.
pub fn render_families(families: &[MetricFamily], escaping: NameEscaping) -> Vec<u8> {
    let mut out = Vec::new();
    for family in families {
        let metrics: Vec<&Metric> = family.metrics.iter().collect();
        render_family(
            &mut out,
            &family.name,
            family.help.as_deref(),
            family.kind,
            &metrics,
            escaping,
        );
    }
    out
}

/// A form of `families` that compares equal when they are equal with NaN
/// equal to NaN (derived `PartialEq` says NaN != NaN; `Debug` prints `NaN`).
pub fn comparable(families: &[MetricFamily]) -> Vec<String> {
    families.iter().map(|f| format!("{:?}", f)).collect()
}

/// Base64 with the URL-safe alphabet and `=` padding, as push URLs use it.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The system allocator, counting live bytes and the peak since the last
/// [`PeakAlloc::reset_peak`]. Install it with `#[global_allocator]` in a
/// target that bounds memory (libFuzzer's own malloc limit needs a sanitizer).
pub struct PeakAlloc {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl PeakAlloc {
    pub const fn new() -> PeakAlloc {
        PeakAlloc {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Starts a new measurement from the bytes live now.
    pub fn reset_peak(&self) {
        self.peak
            .store(self.live.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn grew(&self, bytes: usize) {
        let now = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Default for PeakAlloc {
    fn default() -> PeakAlloc {
        PeakAlloc::new()
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            // Counted as alloc-then-free: realloc may copy, so both live briefly.
            self.grew(new_size);
            self.shrank(layout.size());
        }
        new
    }
}

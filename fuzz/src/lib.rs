//! The fuzz targets' checks ([`targets`], one function per target, also
//! replayed by the main crate's `cargo test`) and an allocator that records
//! peak live bytes for `body_decode`. Nothing here is part of the pushgate
//! binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod targets;

pub use targets::{base64url, comparable, render_families, HeapProbe};

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

impl HeapProbe for PeakAlloc {
    fn reset_peak(&self) {
        PeakAlloc::reset_peak(self);
    }

    fn live(&self) -> usize {
        PeakAlloc::live(self)
    }

    fn peak(&self) -> usize {
        PeakAlloc::peak(self)
    }
}

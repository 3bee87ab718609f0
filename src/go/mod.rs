//! Go compatibility primitives: the bytes upstream's Go code writes and the
//! syntax it accepts, reproduced once for the whole crate.
//!
//! `format` writes floats (`strconv.FormatFloat(f, 'g', -1, 64)`), quoted
//! strings (`strconv.Quote`), RFC 3339 times and `time.Duration`s;
//! `duration` reads durations as `time.ParseDuration`; `syntax` reads Go
//! float literals, quotes single bytes as `%q` does and converts
//! counts as Go's `uint64(f)`; `platform` names the OS and architecture as
//! `GOOS`/`GOARCH` do.

mod duration;
mod format;
mod platform;
mod syntax;

pub use duration::parse_duration;
#[cfg(test)]
pub use format::format_float_text;
pub use format::{
    format_duration, format_float, quote, rfc3339_millis, rfc3339_nanos, rfc3339_seconds,
    unix_nanos_now, write_float,
};
pub use platform::{arch, arch_name, os, os_name};
pub use syntax::{parse_float, quote_byte, uint64};

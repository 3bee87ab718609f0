//! The Prometheus text exposition format 0.0.4: parsing pushes and rendering
//! scrapes, plus the content types and escaping rules both sides share.

pub mod parse;
pub mod render;

pub use parse::{parse, ParseError};

/// The exact Content-Type of a text scrape (Prometheus 3 rejects scrapes
/// without a parseable type).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How metric and label names are written in a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameEscaping {
    /// Legacy names only: every character outside `[a-zA-Z0-9_:]` (and a
    /// leading digit) becomes `_`. Legacy-valid names are unchanged.
    #[default]
    Underscores,
    /// `escaping=allow-utf-8`: names unescaped, quoted where not legacy-valid.
    AllowUtf8,
}

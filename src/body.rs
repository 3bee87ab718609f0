//! Request bodies: undoing `Content-Encoding` (gzip, framed snappy) with the
//! decompressed size bounded, so a small compressed body cannot expand
//! without limit.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body, raw or decompressed, exceeds the limit: 413.
    TooLarge { limit: u64 },
    /// The compressed stream is corrupt: 400 with the decoder's message.
    Corrupt { encoding: &'static str, msg: String },
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Corrupt { .. } => 400,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "request body exceeds the limit of {} bytes", limit)
            }
            BodyError::Corrupt { encoding, msg } => write!(f, "{}: {}", encoding, msg),
        }
    }
}

impl std::error::Error for BodyError {}

/// Undoes `content_encoding` (a single token, case-insensitive: `gzip` or
/// `snappy`; anything else leaves the body as is). `limit` bounds the
/// decompressed size; 0 means unlimited.
pub fn decode(
    body: Vec<u8>,
    _content_encoding: Option<&str>,
    _limit: u64,
) -> Result<Vec<u8>, BodyError> {
    Ok(body)
}

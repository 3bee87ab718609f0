//! Request bodies: undoing `Content-Encoding` (gzip, framed snappy) with the
//! decompressed size bounded, so a small compressed body cannot expand
//! without limit. The limit on the raw (wire) body is the server's job; this
//! module only bounds what a decoder produces.

use std::fmt;
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
// Framed snappy: the `snap` crate verifies the masked CRC-32C of every chunk,
// skips chunk types 0x80-0xfe, rejects 0x02-0x7f and requires the stream
// identifier first (so the raw block format is rejected), exactly as §4.1 asks.
use snap::read::FrameDecoder;

use crate::http::Status;

/// The `Content-Encoding` token for gzip bodies.
pub const GZIP: &str = "gzip";
/// The `Content-Encoding` token for framed snappy bodies.
pub const SNAPPY: &str = "snappy";

/// Why a body cannot be used; [`BodyError::status`] is the body boundary's
/// one status match (the push boundary defers to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body, raw or decompressed, exceeds the limit.
    TooLarge { limit: u64 },
    /// The compressed stream is corrupt; the message is the decoder's.
    Corrupt { encoding: &'static str, msg: String },
}

impl BodyError {
    pub fn status(&self) -> Status {
        match self {
            BodyError::TooLarge { .. } => Status::PAYLOAD_TOO_LARGE,
            BodyError::Corrupt { .. } => Status::BAD_REQUEST,
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
/// `snappy`; anything else, including a list such as `gzip, snappy`, leaves
/// the body as is, as upstream does).
///
/// `limit` bounds the decompressed size; 0 means unlimited. At most
/// `limit + 1` bytes are ever read from the decoder, so a compression bomb
/// costs no more memory than the limit. A body of exactly `limit` bytes is
/// accepted.
pub fn decode(
    body: Vec<u8>,
    content_encoding: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    let encoding = content_encoding.map(str::trim).unwrap_or("");
    if encoding.eq_ignore_ascii_case(GZIP) {
        read_bounded(MultiGzDecoder::new(body.as_slice()), GZIP, limit)
    } else if encoding.eq_ignore_ascii_case(SNAPPY) {
        read_bounded(FrameDecoder::new(body.as_slice()), SNAPPY, limit)
    } else {
        Ok(body)
    }
}

/// Reads `decoder` to the end, failing once more than `limit` bytes (0 =
/// unlimited) come out of it.
fn read_bounded(
    decoder: impl Read,
    encoding: &'static str,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let read = if limit == 0 {
        decoder.take(u64::MAX).read_to_end(&mut out)
    } else {
        decoder.take(limit.saturating_add(1)).read_to_end(&mut out)
    };
    read.map_err(|err| corrupt(encoding, &err))?;
    if limit != 0 && out.len() as u64 > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(out)
}

fn corrupt(encoding: &'static str, err: &io::Error) -> BodyError {
    let text = err.to_string();
    // `snap` already prefixes its messages with "snappy: "; Display adds the
    // stage name itself, so drop the duplicate.
    let prefix = format!("{}: ", encoding);
    let msg = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
    BodyError::Corrupt { encoding, msg }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    const PAYLOAD: &[u8] = b"some_metric 3.14\n";

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("test vector is valid hex"))
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).expect("writing to a Vec cannot fail");
        enc.finish().expect("writing to a Vec cannot fail")
    }

    /// V3 of the spec: an uncompressed (0x01) chunk.
    fn v3() -> Vec<u8> {
        unhex("ff060000734e6150705901150000d0e78610736f6d655f6d657472696320332e31340a")
    }

    /// V4 of the spec: a compressed (0x00) chunk.
    fn v4() -> Vec<u8> {
        unhex("ff060000734e6150705900170000d0e786101140736f6d655f6d657472696320332e31340a")
    }

    fn is_corrupt(result: Result<Vec<u8>, BodyError>, want: &str) -> bool {
        matches!(result, Err(BodyError::Corrupt { encoding, .. }) if encoding == want)
    }

    #[test]
    fn snappy_uncompressed_chunk_v3() {
        assert_eq!(decode(v3(), Some("snappy"), 0), Ok(PAYLOAD.to_vec()));
    }

    #[test]
    fn snappy_compressed_chunk_v4() {
        assert_eq!(decode(v4(), Some("snappy"), 0), Ok(PAYLOAD.to_vec()));
    }

    #[test]
    fn snappy_bad_crc_is_corrupt() {
        let mut body = v4();
        body[14] ^= 0x01; // first byte of the chunk's masked CRC
        let err = decode(body, Some("snappy"), 0).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().starts_with("snappy: "), "{}", err);
        assert!(!err.to_string().starts_with("snappy: snappy:"), "{}", err);
    }

    #[test]
    fn snappy_raw_block_format_is_rejected() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(PAYLOAD)
            .expect("compressing a small buffer cannot fail");
        assert!(is_corrupt(decode(raw, Some("snappy"), 0), "snappy"));
    }

    #[test]
    fn snappy_plain_text_is_corrupt() {
        assert!(is_corrupt(
            decode(PAYLOAD.to_vec(), Some("snappy"), 0),
            "snappy"
        ));
    }

    #[test]
    fn snappy_skippable_chunks_are_skipped() {
        let mut body = v3();
        // A 0x80 chunk of three bytes and a 0xfe padding chunk of one byte.
        body.extend_from_slice(&[0x80, 3, 0, 0, 1, 2, 3, 0xfe, 1, 0, 0, 0]);
        body.extend_from_slice(&v3()[10..]);
        let want = [PAYLOAD, PAYLOAD].concat();
        assert_eq!(decode(body, Some("snappy"), 0), Ok(want));
    }

    #[test]
    fn snappy_reserved_unskippable_chunk_is_corrupt() {
        for ty in [0x02u8, 0x7f] {
            let mut body = v3();
            body.extend_from_slice(&[ty, 1, 0, 0, 0]);
            assert!(
                is_corrupt(decode(body, Some("snappy"), 0), "snappy"),
                "{:#x}",
                ty
            );
        }
    }

    #[test]
    fn snappy_truncated_chunk_is_corrupt() {
        let body = v4();
        let cut = body[..body.len() - 3].to_vec();
        assert!(is_corrupt(decode(cut, Some("snappy"), 0), "snappy"));
    }

    #[test]
    fn gzip_round_trip() {
        assert_eq!(decode(gzip(PAYLOAD), Some("gzip"), 0), Ok(PAYLOAD.to_vec()));
    }

    #[test]
    fn encoding_token_is_case_insensitive() {
        assert_eq!(decode(gzip(PAYLOAD), Some("GZIP"), 0), Ok(PAYLOAD.to_vec()));
        assert_eq!(decode(v3(), Some("SnApPy"), 0), Ok(PAYLOAD.to_vec()));
    }

    #[test]
    fn gzip_garbage_is_corrupt() {
        let err = decode(b"xyz".to_vec(), Some("gzip"), 0).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().starts_with("gzip: "), "{}", err);
    }

    #[test]
    fn gzip_empty_body_is_corrupt() {
        // Upstream answers 400 (`EOF`) too: a gzip body needs a header.
        assert!(is_corrupt(decode(Vec::new(), Some("gzip"), 0), "gzip"));
    }

    #[test]
    fn gzip_truncated_stream_is_corrupt() {
        let body = gzip(PAYLOAD);
        let cut = body[..body.len() - 5].to_vec();
        assert!(is_corrupt(decode(cut, Some("gzip"), 0), "gzip"));
    }

    #[test]
    fn gzip_multi_member() {
        let body = [gzip(b"a 1\n"), gzip(b"b 2\n")].concat();
        assert_eq!(decode(body, Some("gzip"), 0), Ok(b"a 1\nb 2\n".to_vec()));
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 100 << 10, "bomb is {} bytes", bomb.len());
        assert_eq!(
            decode(bomb, Some("gzip"), 100),
            Err(BodyError::TooLarge { limit: 100 })
        );
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let limit = PAYLOAD.len() as u64;
        assert_eq!(
            decode(gzip(PAYLOAD), Some("gzip"), limit),
            Ok(PAYLOAD.to_vec())
        );
        assert_eq!(decode(v4(), Some("snappy"), limit), Ok(PAYLOAD.to_vec()));
    }

    #[test]
    fn one_byte_over_the_limit_is_rejected() {
        let limit = PAYLOAD.len() as u64 - 1;
        let err = decode(gzip(PAYLOAD), Some("gzip"), limit).unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit });
        assert_eq!(err.status(), 413);
        assert_eq!(
            err.to_string(),
            "request body exceeds the limit of 16 bytes"
        );
        assert_eq!(
            decode(v3(), Some("snappy"), limit),
            Err(BodyError::TooLarge { limit })
        );
    }

    #[test]
    fn other_encodings_pass_through() {
        let body = gzip(PAYLOAD);
        for encoding in [
            None,
            Some(""),
            Some("identity"),
            Some("br"),
            Some("deflate"),
            Some("gzip, snappy"),
        ] {
            assert_eq!(
                decode(body.clone(), encoding, 1),
                Ok(body.clone()),
                "{:?}",
                encoding
            );
        }
    }

    #[test]
    fn empty_snappy_body_is_empty() {
        assert_eq!(decode(Vec::new(), Some("snappy"), 0), Ok(Vec::new()));
    }
}

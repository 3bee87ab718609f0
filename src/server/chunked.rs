//! An incremental decoder for `Transfer-Encoding: chunked` request bodies.
//! Pure (bytes in, decoded bytes out), so it is fuzzed directly.
//!
//! Strict where leniency would let a proxy and pushgate disagree on where
//! the body ends: hexadecimal sizes only, at most 16 digits, a CRLF right
//! after each chunk's data; size and trailer lines may end in a bare LF (as
//! Go's reader allows). Chunk extensions and trailer fields are skipped, each
//! line at most [`MAX_LINE`] bytes and all trailers at most [`MAX_TRAILERS`].

/// Longest chunk-size line (size plus extensions) or trailer line, as Go's
/// `maxLineLength`.
pub const MAX_LINE: usize = 4096;

/// Most trailer bytes after the last chunk.
pub const MAX_TRAILERS: usize = 64 * 1024;

/// Why a chunked body is malformed; the connection is closed with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    BadSize,
    SizeTooLarge,
    LineTooLong,
    MissingCrlf,
    TrailersTooLarge,
}

impl ChunkError {
    /// The reason, for `HeadError::BadFraming`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkError::BadSize => "invalid chunk size",
            ChunkError::SizeTooLarge => "chunk size too large",
            ChunkError::LineTooLong => "chunk line too long",
            ChunkError::MissingCrlf => "missing CRLF after chunk data",
            ChunkError::TrailersTooLarge => "trailers too large",
        }
    }
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` so far.
    Size {
        digits: u8,
    },
    /// After the size: extensions up to the line end.
    Extension,
    /// Saw CR ending the size line; LF must follow.
    SizeLf,
    Data,
    /// After data: CR then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final blank line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// Saw CR in a trailer line; LF must follow. `blank`: the line was empty.
    TrailerLf {
        blank: bool,
    },
    Done,
}

/// Decoder state for one body; feed it bytes as they arrive.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the current chunk, then the data bytes still to come.
    remaining: u64,
    line: usize,
    trailers: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            remaining: 0,
            line: 0,
            trailers: 0,
        }
    }

    /// True once the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending data to `out`. Returns how many input
    /// bytes were used: all of them unless the body ended, in which case the
    /// rest belongs to the next request.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                out.extend_from_slice(&input[i..i + take]);
                i += take;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.step(b)?;
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        match self.state {
            State::Size { digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 16 {
                        return Err(ChunkError::SizeTooLarge);
                    }
                    let v = (b as char).to_digit(16).unwrap_or(0);
                    self.remaining = (self.remaining << 4) | u64::from(v);
                    self.state = State::Size { digits: digits + 1 };
                    self.line += 1;
                }
                _ if digits == 0 => return Err(ChunkError::BadSize),
                b';' | b' ' | b'\t' => {
                    self.state = State::Extension;
                    self.line += 1;
                }
                b'\r' => self.state = State::SizeLf,
                b'\n' => self.end_size_line(),
                _ => return Err(ChunkError::BadSize),
            },
            State::Extension => match b {
                b'\r' => self.state = State::SizeLf,
                b'\n' => self.end_size_line(),
                0 => return Err(ChunkError::BadSize),
                _ => {
                    self.line += 1;
                    if self.line > MAX_LINE {
                        return Err(ChunkError::LineTooLong);
                    }
                }
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err(ChunkError::BadSize);
                }
                self.end_size_line();
            }
            State::DataCr => {
                if b != b'\r' {
                    return Err(ChunkError::MissingCrlf);
                }
                self.state = State::DataLf;
            }
            State::DataLf => {
                if b != b'\n' {
                    return Err(ChunkError::MissingCrlf);
                }
                self.state = State::Size { digits: 0 };
                self.remaining = 0;
            }
            State::TrailerStart | State::Trailer => {
                let start = self.state == State::TrailerStart;
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(ChunkError::TrailersTooLarge);
                }
                match b {
                    b'\r' => self.state = State::TrailerLf { blank: start },
                    b'\n' if start => self.state = State::Done,
                    b'\n' => self.state = State::TrailerStart,
                    0 => return Err(ChunkError::BadSize),
                    _ => self.state = State::Trailer,
                }
            }
            State::TrailerLf { blank } => {
                if b != b'\n' {
                    return Err(ChunkError::MissingCrlf);
                }
                self.state = if blank {
                    State::Done
                } else {
                    State::TrailerStart
                };
            }
            // `feed` copies data in bulk and stops when done.
            State::Data | State::Done => {}
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.line = 0;
        self.state = if self.remaining == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let n = d.feed(input, &mut out)?;
        assert!(
            d.is_done(),
            "not done: {:?}",
            String::from_utf8_lossy(input)
        );
        Ok((out, n))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let raw = b"3\r\nabc\r\n2;name=value\r\nde\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (out, n) = decode_all(raw).expect("valid");
        assert_eq!(out, b"abcde");
        assert_eq!(&raw[n..], b"NEXT");
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let raw = b"A\r\n0123456789\r\n1\nx\r\n0\n\n";
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for b in raw.iter() {
            assert_eq!(d.feed(std::slice::from_ref(b), &mut out), Ok(1));
        }
        assert!(d.is_done());
        assert_eq!(out, b"0123456789x");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let cases: &[(&[u8], ChunkError)] = &[
            (b"zz\r\n", ChunkError::BadSize),
            (b"\r\n", ChunkError::BadSize),
            (b"-1\r\n", ChunkError::BadSize),
            (b"3\r\nabcX", ChunkError::MissingCrlf),
            (b"3\r\nabc\rX", ChunkError::MissingCrlf),
            (b"3\rX", ChunkError::BadSize),
            (b"11111111111111111\r\n", ChunkError::SizeTooLarge),
            (b"0\r\nX: y\rZ", ChunkError::MissingCrlf),
        ];
        for (raw, want) in cases {
            let mut d = ChunkedDecoder::new();
            let got = d.feed(raw, &mut Vec::new());
            assert_eq!(got, Err(*want), "{:?}", String::from_utf8_lossy(raw));
        }
        let long_ext = [b"1;".as_slice(), &vec![b'x'; MAX_LINE + 1]].concat();
        assert_eq!(
            ChunkedDecoder::new().feed(&long_ext, &mut Vec::new()),
            Err(ChunkError::LineTooLong)
        );
    }

    #[test]
    fn largest_size_is_accepted_without_overflow() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(d.feed(b"ffffffffffffffff\r\nab", &mut out), Ok(20));
        assert_eq!(out, b"ab");
        assert!(!d.is_done());
    }
}

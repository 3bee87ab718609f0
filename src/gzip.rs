//! A gzip stream assembled from independently compressed segments.
//!
//! A scrape body is mostly stored families that only change when the store
//! does, with a few own metrics spliced in that change on every scrape.
//! Compressing each cached segment once, as raw deflate ending in a full
//! flush (byte-aligned, no back-references across segments), lets a scrape
//! concatenate cached and fresh segments into one valid gzip member, with
//! the CRC-32s combined, as pigz does. One member, not several: some
//! clients read only the first member of a gzip stream.

use std::sync::Arc;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// One compressed segment: raw deflate blocks ending on a full flush, plus
/// the CRC and length of the uncompressed bytes.
#[derive(Debug)]
pub struct Segment {
    /// Shared so that a response can send it without a copy.
    deflated: Arc<[u8]>,
    crc: Crc,
}

impl Segment {
    /// Compresses `data` with a compressor of its own (level 1: scrapes are
    /// compressed on small hosts, where CPU matters more than the last
    /// percent of size).
    pub fn new(data: &[u8]) -> Segment {
        let mut compressor = Compress::new(Compression::fast(), false);
        Segment::with(&mut compressor, data)
    }

    /// Compresses `data` with `compressor`, which must have been used only
    /// for earlier full-flushed segments (each ends with a full flush, so
    /// none refers back to another).
    pub fn with(compressor: &mut Compress, data: &[u8]) -> Segment {
        let mut deflated = Vec::with_capacity(data.len() / 4 + 64);
        let mut consumed = 0usize;
        loop {
            if deflated.capacity() - deflated.len() < 64 {
                deflated.reserve(deflated.capacity().max(1024));
            }
            let before_in = compressor.total_in();
            let status =
                compressor.compress_vec(&data[consumed..], &mut deflated, FlushCompress::Full);
            consumed += (compressor.total_in() - before_in) as usize;
            let room_left = deflated.capacity() > deflated.len();
            match status {
                // Done once all input is taken and the flush fit in the buffer.
                Ok(Status::Ok) | Ok(Status::BufError) if consumed == data.len() && room_left => {
                    break
                }
                Ok(_) => continue,
                // miniz only fails on misuse (e.g. after finishing); a
                // segment that cannot be compressed is stored uncompressed.
                Err(_) => return Segment::stored(data),
            }
        }
        let mut crc = Crc::new();
        crc.update(data);
        Segment {
            deflated: deflated.into(),
            crc,
        }
    }

    /// The compressed bytes, shared.
    pub fn deflated(&self) -> &Arc<[u8]> {
        &self.deflated
    }

    /// `data` as stored (uncompressed) deflate blocks of at most 65535 bytes.
    fn stored(data: &[u8]) -> Segment {
        let mut deflated = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 5);
        for chunk in data.chunks(65535) {
            let len = chunk.len() as u16;
            deflated.push(0x00);
            deflated.extend_from_slice(&len.to_le_bytes());
            deflated.extend_from_slice(&(!len).to_le_bytes());
            deflated.extend_from_slice(chunk);
        }
        let mut crc = Crc::new();
        crc.update(data);
        Segment {
            deflated: deflated.into(),
            crc,
        }
    }
}

/// The 10-byte header of a gzip member: magic, deflate, no flags, no
/// mtime, no extra flags, OS unknown.
pub const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];

/// The end of a member whose deflate stream is `segments` in order: an
/// empty final block, then the combined CRC-32 and length. With [`HEADER`]
/// and the segments' [`Segment::deflated`] bytes between, this is what
/// [`assemble`] returns, so a response can stream the pieces instead.
pub fn trailer<'a>(segments: impl IntoIterator<Item = &'a Segment>) -> Vec<u8> {
    let mut crc = Crc::new();
    for s in segments {
        crc.combine(&s.crc);
    }
    let mut out = Vec::with_capacity(10);
    // An empty final block with fixed Huffman codes ends the deflate stream.
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// Concatenates segments into one gzip member.
pub fn assemble<'a>(segments: impl IntoIterator<Item = &'a Segment>) -> Vec<u8> {
    let segments: Vec<&Segment> = segments.into_iter().collect();
    let mut out = HEADER.to_vec();
    for s in &segments {
        out.extend_from_slice(&s.deflated);
    }
    out.extend_from_slice(&trailer(segments));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Decodes with a single-member decoder, as strict clients do.
    fn gunzip_first_member(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn segments_concatenate_into_one_member() {
        let a = b"# TYPE a untyped\na 1\n".repeat(1000);
        let b = b"own 2\n".to_vec();
        let c = b"# TYPE z gauge\nz{x=\"y\"} 3\n".repeat(500);
        let mut own = Compress::new(Compression::fast(), false);
        let parts = [
            Segment::new(&a),
            Segment::with(&mut own, &b),
            Segment::new(&c),
        ];
        let gz = assemble(&parts);
        assert_eq!(gunzip_first_member(&gz), [a, b, c].concat());
    }

    #[test]
    fn empty_segments_and_empty_streams_are_valid() {
        assert_eq!(gunzip_first_member(&assemble(&[])), b"");
        let parts = [Segment::new(b""), Segment::new(b"x\n"), Segment::new(b"")];
        assert_eq!(gunzip_first_member(&assemble(&parts)), b"x\n");
    }

    #[test]
    fn large_incompressible_segment() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let parts = [Segment::new(b"head\n"), Segment::new(&data)];
        assert_eq!(
            gunzip_first_member(&assemble(&parts)),
            [b"head\n".to_vec(), data].concat()
        );
    }

    #[test]
    fn stored_fallback_is_valid_deflate() {
        let data = vec![7u8; 70_000];
        assert_eq!(
            gunzip_first_member(&assemble(&[Segment::stored(&data)])),
            data
        );
    }
}

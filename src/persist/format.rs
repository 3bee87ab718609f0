//! pushgate's snapshot file format, version 1 (layout in the module
//! documentation of [`super`]): encoding a store snapshot, decoding it with a
//! bound on every length, and the CRC-32C that seals it. Pure functions of
//! bytes; the files, the lock and the timer live in [`super`].

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::model::{GroupingKey, Label};
use crate::proto;
use crate::store::{series_hashes, GroupSnapshot, RestoredGroup, TimestampedFamily};

/// The first eight bytes of every snapshot file.
pub(super) const MAGIC: &[u8; 8] = b"PGSTORE1";
/// The only version this build writes and reads.
pub(super) const FORMAT_VERSION: u32 = 1;
/// Magic, version and group count.
pub(super) const HEADER_LEN: usize = 16;
pub(super) const TRAILER_LEN: usize = 4;
/// Smallest encodings, used to cap counts by the bytes that remain.
pub(super) const MIN_GROUP_LEN: usize = 16;
pub(super) const MIN_LABEL_LEN: usize = 8;
pub(super) const MIN_FAMILY_LEN: usize = 12;

/// Why a snapshot file could not be decoded. Offsets are from the file start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    msg: String,
}

impl FormatError {
    pub(super) fn new(msg: impl Into<String>) -> FormatError {
        FormatError { msg: msg.into() }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for FormatError {}

// ---------------------------------------------------------------------------
// Encoding

/// Writes `groups` in the format described at the top of this module and
/// returns the writer. Fails only on I/O errors and on a string, count or
/// family larger than 4 GiB.
pub(super) fn encode<W: Write>(groups: &[GroupSnapshot], mut out: W) -> io::Result<W> {
    out.write_all(MAGIC)?;
    let mut w = CrcWriter::new(out);
    put_u32(&mut w, FORMAT_VERSION)?;
    put_len(&mut w, groups.len())?;
    for group in groups {
        let labels = group.key.labels();
        put_len(&mut w, labels.len())?;
        for label in labels {
            put_bytes(&mut w, label.name.as_bytes())?;
            put_bytes(&mut w, label.value.as_bytes())?;
        }
        w.write_all(&ttl_nanos(group_ttl(group)).to_le_bytes())?;
        put_len(&mut w, group.families.len())?;
        for family in &group.families {
            w.write_all(&family.written_at.to_le_bytes())?;
            put_bytes(&mut w, family.encoded())?;
        }
    }
    let (mut out, crc) = w.finish();
    out.write_all(&crc.to_le_bytes())?;
    Ok(out)
}

/// A TTL as stored: nanoseconds, saturated, 0 for none.
pub(super) fn ttl_nanos(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
}

// The only two places that know the store's per-group fields beyond key and
// families. The expiry deadline is not stored: the store derives it from the
// TTL and the push-time gauges at restore.

/// The group's own time to live, if it has one.
pub(super) fn group_ttl(group: &GroupSnapshot) -> Option<Duration> {
    group.ttl
}

pub(super) fn group_snapshot(
    key: GroupingKey,
    families: Vec<Arc<TimestampedFamily>>,
    ttl: Option<Duration>,
) -> GroupSnapshot {
    GroupSnapshot {
        key,
        families,
        ttl,
        expires_at: None,
    }
}

pub(super) fn put_u32(w: &mut impl Write, n: u32) -> io::Result<()> {
    w.write_all(&n.to_le_bytes())
}

pub(super) fn put_len(w: &mut impl Write, n: usize) -> io::Result<()> {
    let n = u32::try_from(n).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a count or length exceeds 4 GiB",
        )
    })?;
    put_u32(w, n)
}

pub(super) fn put_bytes(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    put_len(w, bytes.len())?;
    w.write_all(bytes)
}

/// Passes bytes through and keeps the CRC-32C of everything written.
pub(super) struct CrcWriter<W> {
    inner: W,
    crc: Crc32c,
}

impl<W: Write> CrcWriter<W> {
    fn new(inner: W) -> CrcWriter<W> {
        CrcWriter {
            inner,
            crc: Crc32c::new(),
        }
    }

    fn finish(self) -> (W, u32) {
        (self.inner, self.crc.finish())
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------
// Decoding

/// Decodes a whole snapshot file into groups. Never panics; see the module
/// docs for what is checked.
#[cfg(test)]
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<GroupSnapshot>, FormatError> {
    decode_hashed(bytes).map(|groups| groups.into_iter().map(|g| g.snapshot).collect())
}

/// Decodes a whole snapshot file, with the label-set hashes the store's
/// index needs computed while each family is decoded anyway.
pub(super) fn decode_hashed(bytes: &[u8]) -> Result<Vec<RestoredGroup>, FormatError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::new(
            "neither a pushgate persistence file (no PGSTORE1 magic) nor upstream Pushgateway's",
        ));
    }
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(FormatError::new(format!(
            "truncated: {} bytes, a snapshot has at least {}",
            bytes.len(),
            HEADER_LEN + TRAILER_LEN
        )));
    }
    let mut header = Reader::new(bytes, MAGIC.len());
    let version = header.u32("format version")?;
    if version != FORMAT_VERSION {
        return Err(FormatError::new(format!(
            "unsupported format version {} (this pushgate reads version {})",
            version, FORMAT_VERSION
        )));
    }
    let (content, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let mut crc = Crc32c::new();
    crc.update(&content[MAGIC.len()..]);
    let actual = crc.finish();
    if stored != actual {
        return Err(FormatError::new(format!(
            "checksum mismatch (stored {:08x}, computed {:08x}): truncated or damaged",
            stored, actual
        )));
    }
    let mut r = Reader::new(content, MAGIC.len() + 4);
    let groups = decode_groups(&mut r)?;
    if r.remaining() != 0 {
        return Err(FormatError::new(format!(
            "{} unexpected bytes after the last group at byte {}",
            r.remaining(),
            r.pos
        )));
    }
    Ok(groups)
}

pub(super) fn decode_groups(r: &mut Reader) -> Result<Vec<RestoredGroup>, FormatError> {
    let count = r.count("group count", MIN_GROUP_LEN)?;
    let mut groups = Vec::with_capacity(count);
    for g in 0..count {
        groups.push(decode_group(r, g)?);
    }
    // The writer emits grouping-key order; sorting again is linear then,
    // and makes the duplicate check below independent of that promise.
    let mut keyed: Vec<(Vec<u8>, RestoredGroup)> = groups
        .into_iter()
        .map(|g| (g.snapshot.key.sort_key(), g))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(FormatError::new(format!(
            "group {:?} appears twice",
            pair[0].1.snapshot.key.labels()
        )));
    }
    Ok(keyed.into_iter().map(|(_, g)| g).collect())
}

pub(super) fn decode_group(r: &mut Reader, g: usize) -> Result<RestoredGroup, FormatError> {
    let label_count = r.count("label count", MIN_LABEL_LEN)?;
    let mut labels = Vec::with_capacity(label_count);
    for _ in 0..label_count {
        let name = r.string("label name")?;
        let value = r.string("label value")?;
        labels.push(Label::new(name, value));
    }
    let key = GroupingKey::new(labels);
    if key.labels().len() != label_count {
        return Err(FormatError::new(format!(
            "group {} repeats a grouping label",
            g
        )));
    }
    let ttl = match r.u64("group time to live")? {
        0 => None,
        nanos => Some(Duration::from_nanos(nanos)),
    };
    let family_count = r.count("family count", MIN_FAMILY_LEN)?;
    let mut families: Vec<(Arc<TimestampedFamily>, Vec<u64>)> = Vec::with_capacity(family_count);
    for f in 0..family_count {
        let written_at = r.i64("family write time")?;
        let at = r.pos;
        let message = r.bytes("family protobuf")?;
        let family = proto::decode_family(message).map_err(|e| {
            FormatError::new(format!("group {} family {} at byte {}: {}", g, f, at, e))
        })?;
        // Keep the bytes as read: the store holds families encoded anyway.
        let hashes = series_hashes(&family);
        let stored = TimestampedFamily::with_encoding(&family, message.to_vec(), written_at);
        families.push((Arc::new(stored), hashes));
    }
    families.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    if let Some(pair) = families.windows(2).find(|w| w[0].0.name() == w[1].0.name()) {
        return Err(FormatError::new(format!(
            "group {} holds family {:?} twice",
            g,
            pair[0].0.name()
        )));
    }
    let (families, hashes): (Vec<_>, Vec<_>) = families.into_iter().unzip();
    Ok(RestoredGroup {
        snapshot: group_snapshot(key, families, ttl),
        hashes,
    })
}

/// A cursor whose every read is checked against the bytes that remain.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { buf, pos }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::new(format!(
                "{} at byte {} needs {} bytes, {} left",
                what,
                self.pos,
                n,
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    fn i64(&mut self, what: &str) -> Result<i64, FormatError> {
        self.array::<8>(what).map(i64::from_le_bytes)
    }

    fn len(&mut self, what: &str) -> Result<usize, FormatError> {
        let n = self.u32(what)?;
        usize::try_from(n).map_err(|_| FormatError::new(format!("{} {} is too large", what, n)))
    }

    /// A count of items each at least `min_len` bytes long; refused when the
    /// remaining bytes cannot hold them, so it can size an allocation.
    fn count(&mut self, what: &str, min_len: usize) -> Result<usize, FormatError> {
        let at = self.pos;
        let n = self.len(what)?;
        if n > self.remaining() / min_len {
            return Err(FormatError::new(format!(
                "{} {} at byte {} exceeds what the remaining {} bytes can hold",
                what,
                n,
                at,
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], FormatError> {
        let n = self.len(what)?;
        self.take(n, what)
    }

    fn string(&mut self, what: &str) -> Result<String, FormatError> {
        let at = self.pos;
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| FormatError::new(format!("{} at byte {} is not UTF-8", what, at)))
    }
}

// ---------------------------------------------------------------------------
// CRC-32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as in iSCSI and
/// ext4), slicing-by-8 with tables built at compile time. Hand-written
/// rather than the `crc32c` crate: forty lines instead of a dependency, and
/// at well over 1 GB/s it is not what a restart waits for (protobuf decoding
/// is). The crate's SSE4.2 path would be faster still, if that ever matters.
#[derive(Clone, Copy)]
pub(super) struct Crc32c {
    state: u32,
}

pub(super) const CRC32C_POLY: u32 = 0x82F6_3B78;
pub(super) static CRC32C_TABLES: [[u32; 256]; 8] = crc32c_tables();

pub(super) const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = tables[s - 1][i];
            tables[s][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            s += 1;
        }
        i += 1;
    }
    tables
}

impl Crc32c {
    pub(super) fn new() -> Crc32c {
        Crc32c { state: !0 }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        let t = &CRC32C_TABLES;
        let mut crc = self.state;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
            let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            crc = t[7][(lo & 0xFF) as usize]
                ^ t[6][((lo >> 8) & 0xFF) as usize]
                ^ t[5][((lo >> 16) & 0xFF) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xFF) as usize]
                ^ t[2][((hi >> 8) & 0xFF) as usize]
                ^ t[1][((hi >> 16) & 0xFF) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            crc = t[0][((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    pub(super) fn finish(self) -> u32 {
        !self.state
    }
}

//! A reader for Go's `encoding/gob` streams, as far as upstream
//! Pushgateway's persistence file needs: one stream holding type
//! definitions and then exactly one value, decoded into a [`Value`] tree that
//! borrows its strings and byte slices from the input.
//!
//! Supported: the predeclared types (bool, int, uint, float, `[]byte`,
//! string, complex), structs, maps, slices, arrays and values of types with a
//! `GobEncode`/`MarshalBinary`/`MarshalText` method (returned as their raw
//! bytes). Interface values are refused: upstream never writes them.
//!
//! Hostile input cannot allocate unboundedly or panic: every length and
//! count is checked against the bytes that remain before anything is
//! allocated (each element takes at least one byte), type definitions are
//! limited in number and size, and nesting is limited in depth.
//!
//! Wire rules relied on (Go's `encoding/gob` documentation): an unsigned
//! integer below 128 is one byte, otherwise a byte holding the negated byte
//! count followed by that many big-endian bytes; a signed integer is an
//! unsigned one whose low bit is the sign (set: the value is the complement of
//! the rest); a float is a uint of the byte-reversed IEEE 754 bits; strings
//! and byte slices are a length and the bytes. A stream is a sequence of
//! messages `(byte count, type id, payload)`; a negative type id defines type
//! `-id` by a `wireType` payload; a positive one carries a value. Struct
//! fields are sent as `(field number delta, value)` pairs ending with delta 0,
//! zero-valued fields left out; a top-level value that is not a struct is
//! preceded by a delta of 0.

use std::collections::HashMap;
use std::fmt;

/// Deepest nesting of values (upstream's file nests four deep).
const MAX_DEPTH: usize = 32;
/// Most type definitions in one stream (upstream's file has about thirty).
const MAX_TYPES: usize = 1024;
/// Most fields in one struct definition.
const MAX_FIELDS: usize = 1024;
/// Capacity reserved up front for a map or list, whatever count it claims;
/// beyond it, vectors grow only as elements are actually decoded.
const MAX_RESERVE: usize = 1024;
/// Fixed part of the value budget (see [`decode_single`]).
const VALUE_BUDGET_BASE: usize = 4096;
/// First type id a stream may define; lower ids are predeclared.
const FIRST_USER_ID: i64 = 65;

const BOOL: i64 = 1;
const INT: i64 = 2;
const UINT: i64 = 3;
const FLOAT: i64 = 4;
const BYTES: i64 = 5;
const STRING: i64 = 6;
const COMPLEX: i64 = 7;
const INTERFACE: i64 = 8;

/// Why a stream could not be decoded, with the byte offset where it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobError {
    pub offset: usize,
    pub msg: String,
}

impl fmt::Display for GobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gob stream at byte {}: {}", self.offset, self.msg)
    }
}

impl std::error::Error for GobError {}

/// A decoded value. Struct fields carry the names of the type definition
/// and appear in stream order (zero-valued fields are absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Complex(f64, f64),
    Bytes(&'a [u8]),
    /// Go strings are byte strings; they need not be UTF-8.
    String(&'a [u8]),
    Struct(Vec<(&'a str, Value<'a>)>),
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// Slices and arrays.
    List(Vec<Value<'a>>),
    /// The bytes a `GobEncode`, `MarshalBinary` or `MarshalText` method wrote.
    Encoded(&'a [u8]),
}

impl<'a> Value<'a> {
    /// The field `name` of a struct value; `None` if absent (zero) or not a struct.
    pub fn field(&self, name: &str) -> Option<&Value<'a>> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A type defined by the stream.
#[derive(Debug, Clone)]
enum Type<'a> {
    Struct { fields: Vec<(&'a str, i64)> },
    Map { key: i64, elem: i64 },
    Slice { elem: i64 },
    Array { elem: i64, len: u64 },
    Encoded,
}

/// Decodes a stream that holds exactly one value (after its type
/// definitions). Trailing bytes after that value are an error.
///
/// Memory is bounded by the input: at most `len / 2 + 4096` values are
/// decoded (upstream's files hold about one per 40 bytes; the densest real
/// part, a label map, one per 2), each 32 bytes, so a hostile file costs at
/// most ~16 times its size; nothing is reserved on a count's word alone.
pub fn decode_single(bytes: &[u8]) -> Result<Value<'_>, GobError> {
    let mut stream = Cursor { buf: bytes, pos: 0 };
    let mut types: HashMap<i64, Type> = HashMap::new();
    loop {
        if stream.pos == bytes.len() {
            return Err(stream.err("the stream ends before any value"));
        }
        let len = stream.length("message length")?;
        let start = stream.pos;
        let body = stream.take(len, "message")?;
        let mut msg = Cursor {
            buf: &bytes[..start + body.len()],
            pos: start,
        };
        let id = msg.int("type id")?;
        if id < 0 {
            let id = id.checked_neg().unwrap_or(i64::MAX);
            if id < FIRST_USER_ID {
                return Err(msg.err(format!("redefinition of predeclared type {}", id)));
            }
            if types.len() >= MAX_TYPES {
                return Err(msg.err("too many type definitions"));
            }
            let def = wire_type(&mut msg)?;
            if types.insert(id, def).is_some() {
                return Err(msg.err(format!("type {} defined twice", id)));
            }
            msg.finish("type definition")?;
            continue;
        }
        let decoder = Decoder {
            types: &types,
            budget: std::cell::Cell::new(bytes.len() / 2 + VALUE_BUDGET_BASE),
        };
        let value = if matches!(types.get(&id), Some(Type::Struct { .. })) {
            decoder.value(&mut msg, id, 0)?
        } else {
            if msg.uint("singleton delta")? != 0 {
                return Err(msg.err("non-zero delta before a top-level value"));
            }
            decoder.value(&mut msg, id, 0)?
        };
        msg.finish("value")?;
        if stream.pos != bytes.len() {
            return Err(stream.err(format!(
                "{} bytes after the value",
                bytes.len() - stream.pos
            )));
        }
        return Ok(value);
    }
}

/// Reads a `wireType` struct: exactly one of its type fields is set.
fn wire_type<'a>(c: &mut Cursor<'a>) -> Result<Type<'a>, GobError> {
    let mut field = -1i64;
    let mut found = None;
    loop {
        let delta = c.delta()?;
        if delta == 0 {
            break;
        }
        field += delta;
        let def = match field {
            0 => array_type(c)?,
            1 => slice_type(c)?,
            2 => struct_type(c)?,
            3 => map_type(c)?,
            4..=6 => {
                // gobEncoderType { CommonType }
                fields(c, 1, |c, _| common_type(c))?;
                Type::Encoded
            }
            n => return Err(c.err(format!("unknown wireType field {}", n))),
        };
        if found.replace(def).is_some() {
            return Err(c.err("a type definition describes two types"));
        }
    }
    found.ok_or_else(|| c.err("an empty type definition"))
}

/// Reads a struct of `n` fields by calling `each(cursor, field number)`.
fn fields<'a>(
    c: &mut Cursor<'a>,
    n: i64,
    mut each: impl FnMut(&mut Cursor<'a>, i64) -> Result<(), GobError>,
) -> Result<(), GobError> {
    let mut field = -1i64;
    loop {
        let delta = c.delta()?;
        if delta == 0 {
            return Ok(());
        }
        field += delta;
        if field >= n {
            return Err(c.err(format!(
                "field {} beyond the {} of a type definition",
                field, n
            )));
        }
        each(c, field)?;
    }
}

/// `CommonType { Name string; Id typeId }`; only its presence matters.
fn common_type(c: &mut Cursor) -> Result<(), GobError> {
    fields(c, 2, |c, f| {
        if f == 0 {
            c.bytes("type name").map(drop)
        } else {
            c.int("type id").map(drop)
        }
    })
}

fn array_type<'a>(c: &mut Cursor<'a>) -> Result<Type<'a>, GobError> {
    let (mut elem, mut len) = (0, 0);
    fields(c, 3, |c, f| {
        match f {
            0 => common_type(c)?,
            1 => elem = c.int("element type")?,
            _ => {
                len = u64::try_from(c.int("array length")?)
                    .map_err(|_| c.err("negative array length"))?
            }
        }
        Ok(())
    })?;
    Ok(Type::Array { elem, len })
}

fn slice_type<'a>(c: &mut Cursor<'a>) -> Result<Type<'a>, GobError> {
    let mut elem = 0;
    fields(c, 2, |c, f| {
        match f {
            0 => common_type(c)?,
            _ => elem = c.int("element type")?,
        }
        Ok(())
    })?;
    Ok(Type::Slice { elem })
}

fn map_type<'a>(c: &mut Cursor<'a>) -> Result<Type<'a>, GobError> {
    let (mut key, mut elem) = (0, 0);
    fields(c, 3, |c, f| {
        match f {
            0 => common_type(c)?,
            1 => key = c.int("key type")?,
            _ => elem = c.int("element type")?,
        }
        Ok(())
    })?;
    Ok(Type::Map { key, elem })
}

/// `structType { CommonType; Field []*fieldType }`, `fieldType { Name string; Id typeId }`.
fn struct_type<'a>(c: &mut Cursor<'a>) -> Result<Type<'a>, GobError> {
    let mut list = Vec::new();
    fields(c, 2, |c, f| {
        if f == 0 {
            return common_type(c);
        }
        let count = c.count("field count")?;
        if count > MAX_FIELDS {
            return Err(c.err(format!("{} fields in one struct", count)));
        }
        for _ in 0..count {
            let (mut name, mut id) = (&b""[..], 0);
            fields(c, 2, |c, f| {
                if f == 0 {
                    name = c.bytes("field name")?;
                } else {
                    id = c.int("field type")?;
                }
                Ok(())
            })?;
            let name = std::str::from_utf8(name).map_err(|_| c.err("a field name is not UTF-8"))?;
            list.push((name, id));
        }
        Ok(())
    })?;
    Ok(Type::Struct { fields: list })
}

struct Decoder<'t, 'a> {
    types: &'t HashMap<i64, Type<'a>>,
    /// Values that may still be decoded.
    budget: std::cell::Cell<usize>,
}

impl<'a> Decoder<'_, 'a> {
    fn value(&self, c: &mut Cursor<'a>, id: i64, depth: usize) -> Result<Value<'a>, GobError> {
        if depth > MAX_DEPTH {
            return Err(c.err("values nested too deeply"));
        }
        match self.budget.get().checked_sub(1) {
            Some(left) => self.budget.set(left),
            None => return Err(c.err("more values than a file of this size can hold")),
        }
        Ok(match id {
            BOOL => match c.uint("bool")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(c.err(format!("bool value {}", n))),
            },
            INT => Value::Int(c.int("int")?),
            UINT => Value::Uint(c.uint("uint")?),
            FLOAT => Value::Float(c.float()?),
            COMPLEX => Value::Complex(c.float()?, c.float()?),
            BYTES => Value::Bytes(c.bytes("byte slice")?),
            STRING => Value::String(c.bytes("string")?),
            INTERFACE => return Err(c.err("interface values are not supported")),
            _ => match self.types.get(&id) {
                None => return Err(c.err(format!("undefined type {}", id))),
                Some(Type::Encoded) => Value::Encoded(c.bytes("encoded value")?),
                Some(Type::Struct { fields }) => {
                    let mut out = Vec::new();
                    let mut field = -1i64;
                    loop {
                        let delta = c.delta()?;
                        if delta == 0 {
                            break;
                        }
                        field += delta;
                        let Some(&(name, ftype)) =
                            usize::try_from(field).ok().and_then(|i| fields.get(i))
                        else {
                            return Err(c.err(format!(
                                "field {} of a {}-field struct",
                                field,
                                fields.len()
                            )));
                        };
                        out.push((name, self.value(c, ftype, depth + 1)?));
                    }
                    Value::Struct(out)
                }
                Some(Type::Map { key, elem }) => {
                    let n = c.count("map size")?;
                    let mut out = Vec::with_capacity(n.min(MAX_RESERVE));
                    for _ in 0..n {
                        let k = self.value(c, *key, depth + 1)?;
                        let v = self.value(c, *elem, depth + 1)?;
                        out.push((k, v));
                    }
                    Value::Map(out)
                }
                Some(Type::Slice { elem }) => self.list(c, *elem, None, depth)?,
                Some(Type::Array { elem, len }) => self.list(c, *elem, Some(*len), depth)?,
            },
        })
    }

    fn list(
        &self,
        c: &mut Cursor<'a>,
        elem: i64,
        len: Option<u64>,
        depth: usize,
    ) -> Result<Value<'a>, GobError> {
        let n = c.count("list length")?;
        if len.is_some_and(|len| len != n as u64) {
            return Err(c.err("array length differs from its type"));
        }
        let mut out = Vec::with_capacity(n.min(MAX_RESERVE));
        for _ in 0..n {
            out.push(self.value(c, elem, depth + 1)?);
        }
        Ok(Value::List(out))
    }
}

/// A position in the input whose every read is bounds-checked.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, msg: impl Into<String>) -> GobError {
        GobError {
            offset: self.pos,
            msg: msg.into(),
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], GobError> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "{} of {} bytes, but only {} remain",
                what,
                n,
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn uint(&mut self, what: &str) -> Result<u64, GobError> {
        let first = self.take(1, what)?[0];
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let n = (first as i8).unsigned_abs() as usize;
        if n > 8 {
            return Err(self.err(format!("{}: an integer of {} bytes", what, n)));
        }
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn int(&mut self, what: &str) -> Result<i64, GobError> {
        let u = self.uint(what)?;
        let rest = (u >> 1) as i64;
        Ok(if u & 1 == 1 { !rest } else { rest })
    }

    fn float(&mut self) -> Result<f64, GobError> {
        Ok(f64::from_bits(self.uint("float")?.swap_bytes()))
    }

    /// A field-number delta: positive, and small enough to add safely.
    fn delta(&mut self) -> Result<i64, GobError> {
        let d = self.uint("field delta")?;
        i64::try_from(d)
            .ok()
            .filter(|d| *d <= MAX_FIELDS as i64)
            .ok_or_else(|| self.err(format!("field delta {}", d)))
    }

    /// A byte length that must fit in what remains.
    fn length(&mut self, what: &str) -> Result<usize, GobError> {
        let n = self.uint(what)?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.remaining())
            .ok_or_else(|| {
                self.err(format!(
                    "{} {} exceeds the {} bytes that remain",
                    what,
                    n,
                    self.remaining()
                ))
            })
    }

    /// An element count: every element takes at least one byte.
    fn count(&mut self, what: &str) -> Result<usize, GobError> {
        self.length(what)
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], GobError> {
        let n = self.length(what)?;
        self.take(n, what)
    }

    fn finish(&self, what: &str) -> Result<(), GobError> {
        if self.remaining() != 0 {
            return Err(self.err(format!(
                "{} unread bytes at the end of a {} message",
                self.remaining(),
                what
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds gob streams for the tests, following the wire rules in the
    /// module documentation (written from the format description, not Go).
    pub(crate) mod enc {
        pub fn uint(out: &mut Vec<u8>, n: u64) {
            if n < 0x80 {
                out.push(n as u8);
                return;
            }
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push((-((8 - skip) as i8)) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }

        pub fn int(out: &mut Vec<u8>, i: i64) {
            let u = if i < 0 {
                (!(i as u64) << 1) | 1
            } else {
                (i as u64) << 1
            };
            uint(out, u);
        }

        pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            uint(out, b.len() as u64);
            out.extend_from_slice(b);
        }

        /// One message: length, type id, payload.
        pub fn message(out: &mut Vec<u8>, id: i64, payload: &[u8]) {
            let mut body = Vec::new();
            int(&mut body, id);
            body.extend_from_slice(payload);
            uint(out, body.len() as u64);
            out.extend_from_slice(&body);
        }

        /// `CommonType{Name, Id}` as a struct field value.
        fn common(out: &mut Vec<u8>, name: &str, id: i64) {
            if !name.is_empty() {
                uint(out, 1);
                bytes(out, name.as_bytes());
                uint(out, 1);
            } else {
                uint(out, 2);
            }
            int(out, id);
            uint(out, 0);
        }

        /// The definition message of struct type `id`.
        pub fn define_struct(out: &mut Vec<u8>, id: i64, name: &str, fields: &[(&str, i64)]) {
            let mut p = Vec::new();
            uint(&mut p, 3); // wireType.StructT
            uint(&mut p, 1); // structType.CommonType
            common(&mut p, name, id);
            uint(&mut p, 1); // structType.Field
            uint(&mut p, fields.len() as u64);
            for (n, t) in fields {
                uint(&mut p, 1);
                bytes(&mut p, n.as_bytes());
                uint(&mut p, 1);
                int(&mut p, *t);
                uint(&mut p, 0);
            }
            uint(&mut p, 0); // end structType
            uint(&mut p, 0); // end wireType
            message(out, -id, &p);
        }

        pub fn define_map(out: &mut Vec<u8>, id: i64, key: i64, elem: i64) {
            let mut p = Vec::new();
            uint(&mut p, 4); // wireType.MapT
            uint(&mut p, 1);
            common(&mut p, "", id);
            uint(&mut p, 1);
            int(&mut p, key);
            uint(&mut p, 1);
            int(&mut p, elem);
            uint(&mut p, 0);
            uint(&mut p, 0);
            message(out, -id, &p);
        }

        pub fn define_slice(out: &mut Vec<u8>, id: i64, elem: i64) {
            let mut p = Vec::new();
            uint(&mut p, 2); // wireType.SliceT
            uint(&mut p, 1);
            common(&mut p, "", id);
            uint(&mut p, 1);
            int(&mut p, elem);
            uint(&mut p, 0);
            uint(&mut p, 0);
            message(out, -id, &p);
        }

        pub fn define_encoded(out: &mut Vec<u8>, id: i64, name: &str) {
            let mut p = Vec::new();
            uint(&mut p, 5); // wireType.GobEncoderT
            uint(&mut p, 1);
            common(&mut p, name, id);
            uint(&mut p, 0);
            uint(&mut p, 0);
            message(out, -id, &p);
        }
    }

    #[test]
    fn integers_follow_the_documented_examples() {
        // Go's encoding/gob documentation: 7 → 07, 256 → FE 01 00; int -129 → FE 01 01.
        let mut out = Vec::new();
        enc::uint(&mut out, 7);
        enc::uint(&mut out, 256);
        enc::int(&mut out, -129);
        enc::int(&mut out, 3);
        assert_eq!(out, [0x07, 0xFE, 0x01, 0x00, 0xFE, 0x01, 0x01, 0x06]);
        let mut c = Cursor { buf: &out, pos: 0 };
        assert_eq!(c.uint("u").unwrap(), 7);
        assert_eq!(c.uint("u").unwrap(), 256);
        assert_eq!(c.int("i").unwrap(), -129);
        assert_eq!(c.int("i").unwrap(), 3);
        // Float 17.0 is sent as the uint of its byte-reversed bits: FE 31 40.
        let mut c = Cursor {
            buf: &[0xFE, 0x31, 0x40],
            pos: 0,
        };
        assert_eq!(c.float().unwrap(), 17.0);
        for n in [0, 1, 127, 128, 255, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            enc::uint(&mut out, n);
            assert_eq!(Cursor { buf: &out, pos: 0 }.uint("u").unwrap(), n);
        }
        for i in [0, -1, 1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            enc::int(&mut out, i);
            assert_eq!(Cursor { buf: &out, pos: 0 }.int("i").unwrap(), i);
        }
    }

    /// `map[string]struct{A []byte-encoded; B map[string]string; C int}`.
    fn sample() -> Vec<u8> {
        let mut s = Vec::new();
        enc::define_encoded(&mut s, 66, "Time");
        enc::define_map(&mut s, 67, STRING, STRING);
        enc::define_struct(&mut s, 68, "Entry", &[("A", 66), ("B", 67), ("C", INT)]);
        enc::define_map(&mut s, 65, STRING, 68);
        let mut v = Vec::new();
        enc::uint(&mut v, 0); // singleton
        enc::uint(&mut v, 2); // two entries
        enc::bytes(&mut v, b"k1");
        enc::uint(&mut v, 1);
        enc::bytes(&mut v, b"\x01\x02");
        enc::uint(&mut v, 1);
        enc::uint(&mut v, 1);
        enc::bytes(&mut v, b"job");
        enc::bytes(&mut v, "z\u{fc}rich".as_bytes());
        enc::uint(&mut v, 1);
        enc::int(&mut v, -5);
        enc::uint(&mut v, 0);
        enc::bytes(&mut v, b"k2");
        enc::uint(&mut v, 3); // only C
        enc::int(&mut v, 300);
        enc::uint(&mut v, 0);
        enc::message(&mut s, 65, &v);
        s
    }

    #[test]
    fn a_map_of_structs_decodes_with_field_names() {
        let bytes = sample();
        let v = decode_single(&bytes).unwrap();
        let Value::Map(entries) = v else {
            panic!("{:?}", v)
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, Value::String(b"k1"));
        let e = &entries[0].1;
        assert_eq!(e.field("A"), Some(&Value::Encoded(b"\x01\x02")));
        assert_eq!(
            e.field("B"),
            Some(&Value::Map(vec![(
                Value::String(b"job"),
                Value::String("z\u{fc}rich".as_bytes())
            )]))
        );
        assert_eq!(e.field("C"), Some(&Value::Int(-5)));
        assert_eq!(entries[1].1, Value::Struct(vec![("C", Value::Int(300))]));
    }

    #[test]
    fn slices_and_top_level_structs() {
        let mut s = Vec::new();
        enc::define_slice(&mut s, 65, STRING);
        enc::define_struct(&mut s, 66, "T", &[("L", 65), ("F", FLOAT), ("B", BOOL)]);
        let mut v = Vec::new();
        enc::uint(&mut v, 1);
        enc::uint(&mut v, 2);
        enc::bytes(&mut v, b"a");
        enc::bytes(&mut v, b"");
        enc::uint(&mut v, 1);
        v.extend_from_slice(&[0xFE, 0x31, 0x40]);
        enc::uint(&mut v, 1);
        enc::uint(&mut v, 1);
        enc::uint(&mut v, 0);
        enc::message(&mut s, 66, &v);
        let v = decode_single(&s).unwrap();
        assert_eq!(
            v,
            Value::Struct(vec![
                (
                    "L",
                    Value::List(vec![Value::String(b"a"), Value::String(b"")])
                ),
                ("F", Value::Float(17.0)),
                ("B", Value::Bool(true)),
            ])
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for n in 0..bytes.len() {
            assert!(decode_single(&bytes[..n]).is_err(), "prefix of {} bytes", n);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_single(&longer)
            .unwrap_err()
            .msg
            .contains("after the value"));
    }

    #[test]
    fn every_single_byte_change_is_decoded_or_refused_without_panic() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for b in [0x00, 0x01, 0x7f, 0x80, 0xf8, 0xff] {
                let mut m = bytes.clone();
                m[i] = b;
                let _ = decode_single(&m);
            }
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut s = Vec::new();
        enc::define_map(&mut s, 65, STRING, STRING);
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, u64::MAX >> 1);
        enc::message(&mut s, 65, &v);
        let err = decode_single(&s).unwrap_err();
        assert!(err.msg.contains("exceeds"), "{}", err);
        // A message longer than the stream.
        let mut s = Vec::new();
        enc::uint(&mut s, 1 << 40);
        assert!(decode_single(&s).unwrap_err().msg.contains("exceeds"));
    }

    #[test]
    fn recursive_types_hit_the_depth_limit() {
        // type T struct { Next T } nested 100 deep.
        let mut s = Vec::new();
        enc::define_struct(&mut s, 65, "T", &[("Next", 65)]);
        let mut v = vec![1u8; 100];
        v.extend(std::iter::repeat(0u8).take(101));
        enc::message(&mut s, 65, &v);
        assert!(decode_single(&s).unwrap_err().msg.contains("deeply"));
    }

    #[test]
    fn malformed_definitions_are_refused() {
        let mut s = Vec::new();
        enc::define_map(&mut s, 3, STRING, STRING);
        assert!(decode_single(&s).unwrap_err().msg.contains("predeclared"));
        let mut s = Vec::new();
        enc::define_map(&mut s, 65, STRING, STRING);
        enc::define_map(&mut s, 65, STRING, STRING);
        assert!(decode_single(&s).unwrap_err().msg.contains("twice"));
        let mut s = Vec::new();
        enc::define_map(&mut s, 65, STRING, 99);
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, 1);
        enc::bytes(&mut v, b"k");
        enc::bytes(&mut v, b"v");
        enc::message(&mut s, 65, &v);
        assert!(decode_single(&s)
            .unwrap_err()
            .msg
            .contains("undefined type 99"));
        let mut s = Vec::new();
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, 0);
        enc::message(&mut s, INTERFACE, &v);
        assert!(decode_single(&s).unwrap_err().msg.contains("interface"));
    }

    #[test]
    fn dense_values_hit_the_budget() {
        // A 200,000-element []bool, one byte each: more values than len / 2.
        let mut s = Vec::new();
        enc::define_slice(&mut s, 65, BOOL);
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, 200_000);
        v.extend(std::iter::repeat(1u8).take(200_000));
        enc::message(&mut s, 65, &v);
        let err = decode_single(&s).unwrap_err();
        assert!(err.msg.contains("more values"), "{err}");
        // 1,000 are fine.
        let mut s = Vec::new();
        enc::define_slice(&mut s, 65, BOOL);
        let mut v = Vec::new();
        enc::uint(&mut v, 0);
        enc::uint(&mut v, 1000);
        v.extend(std::iter::repeat(1u8).take(1000));
        enc::message(&mut s, 65, &v);
        assert!(matches!(decode_single(&s), Ok(Value::List(l)) if l.len() == 1000));
    }
}

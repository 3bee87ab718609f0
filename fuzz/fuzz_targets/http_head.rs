//! Request heads: never panics; an accepted head is self-delimiting, has
//! a clean target and header values, framing that agrees with its fields,
//! and its end is found by the I/O loop's incremental search.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushgate::server::head::{self, Framing, MAX_HEAD_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((head, n))) = head::parse(data) else {
        return;
    };
    assert!(n <= data.len() && n <= MAX_HEAD_BYTES);
    // The head alone parses to the same head: nothing after it mattered.
    assert_eq!(head::parse(&data[..n]), Ok(Some((head.clone(), n))));
    // The loop only parses once it has seen the blank line, whichever
    // byte arrived last.
    assert!(head::may_be_complete(&data[..n], 0));
    assert!(head::may_be_complete(&data[..n], n - 1));
    assert!(head.target.starts_with('/') || head.target == "*");
    assert!(!head.target.bytes().any(|b| b <= b' ' || b == 0x7f));
    for (name, value) in &head.headers {
        assert!(!name.is_empty());
        assert!(!value.contains(['\r', '\n', '\0']), "{value:?}");
    }
    let fields = |want: &str| {
        head.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(want))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let te = fields("transfer-encoding");
    let cl = fields("content-length");
    match head.framing {
        Framing::Chunked => {
            assert_eq!(te.len(), 1);
            assert!(te[0].eq_ignore_ascii_case("chunked"));
            assert!(cl.is_empty());
            assert_eq!(head.minor_version, 1);
        }
        Framing::Length(k) => {
            assert!(te.is_empty());
            assert!(k > 0 && k <= i64::MAX as u64);
            assert!(cl.iter().all(|v| v.parse::<u64>() == Ok(k)), "{cl:?}");
        }
        Framing::Empty => {
            assert!(te.is_empty());
            assert!(cl.iter().all(|v| v.parse::<u64>() == Ok(0)), "{cl:?}");
        }
    }
});

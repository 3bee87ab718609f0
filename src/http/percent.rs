//! Percent-decoding of URL paths and query components, the one decoder the
//! server, the push path, query parameters and the client's URL credentials
//! share. Only `%` followed by two hex digits is an escape, as in Go's
//! `net/url` (`%+f` is malformed, not `0x0f`).

/// The value of an ASCII hex digit.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a `%XX` escape at the start of `input` stands for.
fn escape_at(input: &[u8]) -> Option<u8> {
    match input {
        [b'%', h, l, ..] => Some(hex_digit(*h)? << 4 | hex_digit(*l)?),
        _ => None,
    }
}

/// Decodes `%XX` escapes. On a malformed escape returns it as Go's
/// `url.EscapeError` shows it: the `%` and the next two bytes, or the rest
/// of the input when it is shorter.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, &[u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let byte = escape_at(&input[i..]).ok_or(&input[i..input.len().min(i + 3)])?;
            out.push(byte);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Decodes `%XX` escapes and keeps a malformed one as written. For input
/// already checked by [`decode`], and for URL credentials, which curl
/// passes on the same way.
pub fn decode_lossy(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if let Some(byte) = escape_at(&input[i..]) {
            out.push(byte);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

/// Decodes a query component (`application/x-www-form-urlencoded`): `+` is
/// a space, then `%XX` escapes. `None` if an escape is malformed or the
/// result is not UTF-8, as Go's `url.QueryUnescape` refuses it.
pub fn decode_query(s: &str) -> Option<String> {
    let plus_as_space: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(decode(&plus_as_space).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode(b"/a%2Fb"), Ok(b"/a/b".to_vec()));
        assert_eq!(decode(b"/%FF"), Ok(vec![b'/', 0xff]));
        assert_eq!(decode(b"/%zz"), Err(&b"%zz"[..]));
        assert_eq!(decode(b"/%f"), Err(&b"%f"[..]));
    }

    #[test]
    fn a_sign_is_not_a_hex_digit() {
        // `u8::from_str_radix("+f", 16)` is 15; Go's unhex refuses it.
        assert_eq!(decode(b"/%+f"), Err(&b"%+f"[..]));
        assert_eq!(decode(b"/%-1x"), Err(&b"%-1"[..]));
        assert_eq!(decode_lossy(b"%+f%41"), b"%+fA");
        assert_eq!(decode_query("%+f"), None);
        assert_eq!(decode_query("a+b%2B%41"), Some("a b+A".to_string()));
    }

    #[test]
    fn lossy_decoding_keeps_malformed_escapes() {
        assert_eq!(decode_lossy(b"%2F%2f%"), b"//%");
    }

    #[test]
    fn query_components_must_decode_to_utf8() {
        assert_eq!(decode_query("%FF"), None);
        assert_eq!(
            decode_query("%7Bjob%3D%22a+b%22%7D"),
            Some("{job=\"a b\"}".into())
        );
    }
}

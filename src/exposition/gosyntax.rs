//! Go literal syntax that upstream's text parser inherits: what
//! `strconv.ParseFloat` accepts and how `%q` prints a single byte. Kept apart
//! so the parser reads as the state machine it is.

/// Go's `strconv.ParseFloat(s, 64)` minus hex floats and `_` (upstream's
/// `parseFloat`): decimal with optional exponent, `Inf`/`Infinity` with an
/// optional sign, `NaN` without one, any case. Out-of-range values fail.
pub fn parse_go_float(raw: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(raw).ok()?;
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    let decimal_chars = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !decimal_chars {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Go's `%q` of a byte: a single-quoted character literal.
pub fn go_quote_byte(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_string(),
        b'\\' => "'\\\\'".to_string(),
        b'\x07' => "'\\a'".to_string(),
        b'\x08' => "'\\b'".to_string(),
        b'\x0c' => "'\\f'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\t' => "'\\t'".to_string(),
        b'\x0b' => "'\\v'".to_string(),
        0..=0x1f | 0x7f => format!("'\\x{b:02x}'"),
        0x80..=0x9f | 0xad => format!("'\\u{b:04x}'"),
        _ => format!("'{}'", char::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_syntax_is_accepted() {
        let cases: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-3e3", -3000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+1E+2", 100.0),
            ("Inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("1e-400", 0.0),
        ];
        for (token, want) in cases {
            assert_eq!(parse_go_float(token.as_bytes()), Some(*want), "{token}");
        }
        assert!(parse_go_float(b"NaN").is_some_and(f64::is_nan));
        assert!(parse_go_float(b"nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn bytes_quote_like_go_char_literals() {
        let cases = [
            (b'+', "'+'"),
            (b'\n', "'\\n'"),
            (b'\'', "'\\''"),
            (b'\\', "'\\\\'"),
            (0x01, "'\\x01'"),
            (0x85, "'\\u0085'"),
            (0xff, "'\u{ff}'"),
        ];
        for (b, want) in cases {
            assert_eq!(go_quote_byte(b), want, "byte {b:#04x}");
        }
    }
}

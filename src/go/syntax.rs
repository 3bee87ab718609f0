//! Go literal syntax that upstream's text parser inherits: what
//! `strconv.ParseFloat` accepts, how `%q` prints a single byte and what
//! Go's `uint64(f)` makes of a float count.

/// Go's `strconv.ParseFloat(s, 64)` minus hex floats and `_` (upstream's
/// `parseFloat`): decimal with optional exponent, `Inf`/`Infinity` with an
/// optional sign, `NaN` without one, any case. Out-of-range values fail.
pub fn parse_float(raw: &[u8]) -> Option<f64> {
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
pub fn quote_byte(b: u8) -> String {
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

/// Go's `uint64(v)` as compiled for amd64, which upstream's text parser
/// applies to summary and histogram counts: truncation towards zero for
/// values in range; NaN, infinities and values of 2^64 or more give 2^63;
/// negative values wrap as `int64` does (`-1` gives 2^64 - 1). Measured
/// against upstream Pushgateway's scrape of such pushes.
pub fn uint64(v: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // CVTTSD2SI: out of `i64` range (NaN included) is 0x8000_0000_0000_0000.
    fn truncate_i64(x: f64) -> u64 {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            1 << 63
        } else {
            x as i64 as u64
        }
    }
    if v < TWO_63 {
        truncate_i64(v)
    } else {
        truncate_i64(v - TWO_63) | 1 << 63
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
            assert_eq!(parse_float(token.as_bytes()), Some(*want), "{token}");
        }
        assert!(parse_float(b"NaN").is_some_and(f64::is_nan));
        assert!(parse_float(b"nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn counts_convert_like_go_uint64_on_amd64() {
        // What upstream Pushgateway 1.5.1 (amd64) scrapes for `s_count <v>`.
        let cases: &[(f64, u64)] = &[
            (f64::NAN, 1 << 63),
            (f64::INFINITY, 1 << 63),
            (f64::NEG_INFINITY, 1 << 63),
            (1e30, 1 << 63),
            (1.8e19, 18_000_000_000_000_000_000),
            (-1.0, u64::MAX),
            (-0.5, 0),
            (1.5, 1),
            (20.0, 20),
        ];
        for &(v, want) in cases {
            assert_eq!(uint64(v), want, "{v}");
        }
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
            assert_eq!(quote_byte(b), want, "byte {b:#04x}");
        }
    }
}

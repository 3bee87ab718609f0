//! The Prometheus text exposition format 0.0.4: parsing pushes and rendering
//! scrapes, plus the content types and escaping rules both sides share.
//!
//! Owns the byte-level details (escapes, name quoting, Go float syntax); it
//! knows nothing of HTTP, the store or content negotiation.

pub mod parse;
pub mod render;

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::go::write_float;
use crate::model::{is_legacy_label_name, is_legacy_metric_name};

pub use parse::parse;

/// How metric and label names are written in a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameEscaping {
    /// Legacy names only: every character outside `[a-zA-Z0-9_:]` (and a
    /// leading digit) becomes `_`. Legacy-valid names are unchanged.
    #[default]
    Underscores,
    /// `escaping=allow-utf-8`: names unescaped, quoted where not legacy-valid.
    AllowUtf8,
    /// `escaping=dots`: in names that are not legacy-valid, `_` becomes `__`,
    /// `.` becomes `_dot_` and every other invalid character `__`.
    Dots,
    /// `escaping=values`: a name that is not legacy-valid becomes `U__`
    /// followed by the name with `_` as `__` and every invalid character as
    /// `_<hex code point>_`.
    Values,
}

impl NameEscaping {
    /// The scheme named by an `escaping=` media-type parameter, if known.
    pub fn from_param(value: &str) -> Option<NameEscaping> {
        match value {
            "underscores" => Some(NameEscaping::Underscores),
            "allow-utf-8" => Some(NameEscaping::AllowUtf8),
            "dots" => Some(NameEscaping::Dots),
            "values" => Some(NameEscaping::Values),
            _ => None,
        }
    }

    /// The parameter value naming this scheme.
    pub fn as_param(self) -> &'static str {
        match self {
            NameEscaping::Underscores => "underscores",
            NameEscaping::AllowUtf8 => "allow-utf-8",
            NameEscaping::Dots => "dots",
            NameEscaping::Values => "values",
        }
    }

    /// A metric or label name as this scheme writes it; legacy-valid names
    /// are always unchanged (`is_legacy` decides which rule applies).
    pub fn escape<'a>(self, name: &'a str, is_legacy: bool) -> Cow<'a, str> {
        if is_legacy || self == NameEscaping::AllowUtf8 {
            return Cow::Borrowed(name);
        }
        let valid = |i: usize, c: char| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        };
        let mut out = String::with_capacity(name.len() + 8);
        match self {
            NameEscaping::Underscores | NameEscaping::AllowUtf8 => {
                for (i, c) in name.char_indices() {
                    out.push(if valid(i, c) { c } else { '_' });
                }
            }
            NameEscaping::Dots => {
                for (i, c) in name.char_indices() {
                    match c {
                        '_' => out.push_str("__"),
                        '.' => out.push_str("_dot_"),
                        c if valid(i, c) => out.push(c),
                        _ => out.push_str("__"),
                    }
                }
            }
            NameEscaping::Values => {
                out.push_str("U__");
                for (i, c) in name.char_indices() {
                    match c {
                        '_' => out.push_str("__"),
                        c if valid(i, c) => out.push(c),
                        c => {
                            let _ = write!(out, "_{:x}_", c as u32);
                        }
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

/// Appends `v` between double quotes, escaping `\`, `"` and newline as the
/// text format requires for label values and quoted names.
pub fn write_label_value(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    write_escaped(out, v, true);
    out.push(b'"');
}

/// Appends a HELP text: `\` → `\\`, newline → `\n`; quotes stay as they are.
pub fn write_help(out: &mut Vec<u8>, help: &str) {
    write_escaped(out, help, false);
}

/// Appends `s` with `\` and newline escaped, and `"` too when `escape_quote`.
pub(crate) fn write_escaped(out: &mut Vec<u8>, s: &str, escape_quote: bool) {
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if escape_quote => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        out.extend_from_slice(escaped);
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
}

/// `name` as a legacy metric name: unchanged when legacy-valid, otherwise
/// every character outside `[a-zA-Z0-9_:]`, and a leading digit, becomes `_`.
pub fn escape_metric_name(name: &str) -> Cow<'_, str> {
    if is_legacy_metric_name(name) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(underscore_escape(name, |c| c == ':'))
}

/// `name` as a legacy label name: like [`escape_metric_name`], but `:` is
/// escaped too, so the result is always a valid label name.
pub fn escape_label_name(name: &str) -> Cow<'_, str> {
    if is_legacy_label_name(name) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(underscore_escape(name, |_| false))
}

fn underscore_escape(name: &str, extra_ok: impl Fn(char) -> bool) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || extra_ok(c) || (i > 0 && c.is_ascii_digit());
            if ok {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Like [`write_float`] (Go's float format), but negative zero prints `0`,
/// as sample values do.
pub fn write_float_text(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 {
        out.push(b'0');
    } else {
        write_float(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go;

    fn render(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("helpers write UTF-8")
    }

    #[test]
    fn write_float_matches_gofmt() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1e-4,
            1e-5,
            1.5e-5,
            99.23,
            123456.0,
            999999.0,
            1e6,
            1234567.0,
            1583781848.025745,
            1e21,
            18446744073709551616.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1.2345678901234567,
            -3000.0,
        ];
        // A deterministic spread over many magnitudes and digit counts.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x % 10_000_000) as f64 / 1000.0);
        }
        for v in values {
            let mut out = Vec::new();
            write_float(&mut out, v);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                go::format_float(v),
                "{v:e}"
            );
            let mut out = Vec::new();
            write_float_text(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), go::format_float_text(v));
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_newline() {
        let got = render(|o| write_label_value(o, "a\\b\"c\nd"));
        assert_eq!(got, r#""a\\b\"c\nd""#);
        assert_eq!(render(|o| write_label_value(o, "Björn")), "\"Björn\"");
    }

    #[test]
    fn help_keeps_quotes() {
        let got = render(|o| write_help(o, "say \"hi\"\\\nbye"));
        assert_eq!(got, r#"say "hi"\\\nbye"#);
    }

    #[test]
    fn underscore_escaping() {
        let cases = [
            ("my_metric", "my_metric", "my_metric"),
            ("a:b", "a:b", "a_b"),
            ("my.metric", "my_metric", "my_metric"),
            ("1abc", "_abc", "_abc"),
            ("Björn", "Bj_rn", "Bj_rn"),
            (
                "dotted.label.name",
                "dotted_label_name",
                "dotted_label_name",
            ),
        ];
        for (name, metric, label) in cases {
            assert_eq!(escape_metric_name(name), metric, "metric {name}");
            assert_eq!(escape_label_name(name), label, "label {name}");
        }
    }

    #[test]
    fn escaping_schemes_as_upstream() {
        use NameEscaping::*;
        let cases: &[(&str, NameEscaping, &str)] = &[
            ("my.metric", Underscores, "my_metric"),
            ("my.metric", Dots, "my_dot_metric"),
            ("my_a.b", Dots, "my__a_dot_b"),
            ("a-b", Dots, "a__b"),
            ("my.metric", Values, "U__my_2e_metric"),
            ("a_b.c", Values, "U__a__b_2e_c"),
            ("1x", Values, "U___31_x"),
            ("Ζ", Values, "U___396_"),
            ("my.metric", AllowUtf8, "my.metric"),
            ("legacy_name", Dots, "legacy_name"),
            ("legacy_name", Values, "legacy_name"),
        ];
        for (name, scheme, want) in cases {
            let legacy = crate::model::is_legacy_metric_name(name);
            assert_eq!(scheme.escape(name, legacy), *want, "{name} {scheme:?}");
        }
        for s in [Underscores, AllowUtf8, Dots, Values] {
            assert_eq!(NameEscaping::from_param(s.as_param()), Some(s));
        }
        assert_eq!(NameEscaping::from_param("bogus"), None);
    }
}

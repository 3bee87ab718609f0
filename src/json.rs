//! JSON string quoting as Go's `encoding/json` does it: the one writer the
//! API, the JSON log format and the status page's `data-labels` attribute
//! share, so a label value is escaped the same way wherever it appears.

/// Appends `s` quoted as Go's `encoding/json` quotes it by default (HTML
/// escaping on): `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for other
/// control characters and for `<`, `>`, `&`, and `\u2028`/`\u2029` (which
/// break JavaScript string literals).
pub fn write_string(out: &mut String, s: &str) {
    write(out, s, true);
}

/// Like [`write_string`] with HTML escaping off (`SetEscapeHTML(false)`):
/// `<`, `>` and `&` stay as they are. For output that is not embedded in
/// HTML by a browser, or that HTML-escapes it afterwards itself.
pub fn write_string_no_html(out: &mut String, s: &str) {
    write(out, s, false);
}

/// [`write_string_no_html`] into a new `String`.
pub fn quote_no_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string_no_html(&mut out, s);
    out
}

fn write(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => push_unicode_escape(out, c as u32),
            '<' | '>' | '&' if escape_html => push_unicode_escape(out, c as u32),
            '\u{2028}' | '\u{2029}' => push_unicode_escape(out, c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_unicode_escape(out: &mut String, code: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((code >> shift) & 0xf) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_is_the_only_difference() {
        let cases: &[(&str, &str, &str)] = &[
            ("plain", r#""plain""#, r#""plain""#),
            (
                "<a href=\"x\">&</a>",
                r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#,
                r#""<a href=\"x\">&</a>""#,
            ),
            ("a\\b", r#""a\\b""#, r#""a\\b""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#, r#""\n\r\t\b\f""#),
            (
                "\u{1}\u{1f}\u{7f}",
                "\"\\u0001\\u001f\u{7f}\"",
                "\"\\u0001\\u001f\u{7f}\"",
            ),
            ("\u{2028}\u{2029}", r#""\u2028\u2029""#, r#""\u2028\u2029""#),
            ("Björn ✓", "\"Björn ✓\"", "\"Björn ✓\""),
        ];
        for (input, html, no_html) in cases {
            let mut out = String::new();
            write_string(&mut out, input);
            assert_eq!(&out, html, "{input:?}");
            assert_eq!(&quote_no_html(input), no_html, "{input:?}");
        }
    }
}

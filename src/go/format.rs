//! Go-compatible formatting of floats, quoted strings, times and durations,
//! and the wall clock in Unix nanoseconds those times are kept in.
//!
//! Clients, dashboards and tests compare these bytes with what the upstream
//! Go Pushgateway writes, so each function reproduces one Go formatter:
//! `strconv.FormatFloat(f, 'g', -1, 64)`, `strconv.Quote`, `time.RFC3339Nano`
//! and `time.Duration.String`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now. Clocks before 1970 read as 0.
pub fn unix_nanos_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Where [`write_float`] appends: the API's `String`s and the scrape's byte
/// buffers share one float formatter through it.
pub trait Sink {
    /// The current length in bytes.
    fn mark(&self) -> usize;
    /// The bytes written since `mark`.
    fn since(&self, mark: usize) -> &[u8];
    /// Drops everything after `mark` (always an ASCII boundary here).
    fn cut(&mut self, mark: usize);
    fn put(&mut self, s: &str);
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>);
}

impl Sink for String {
    fn mark(&self) -> usize {
        self.len()
    }
    fn since(&self, mark: usize) -> &[u8] {
        &self.as_bytes()[mark..]
    }
    fn cut(&mut self, mark: usize) {
        self.truncate(mark);
    }
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        let _ = self.write_fmt(args);
    }
}

impl Sink for Vec<u8> {
    fn mark(&self) -> usize {
        self.len()
    }
    fn since(&self, mark: usize) -> &[u8] {
        &self[mark..]
    }
    fn cut(&mut self, mark: usize) {
        self.truncate(mark);
    }
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_fmt(self, args);
    }
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest
/// digits that round-trip, in scientific form `d.ddde±XX` (two exponent digits
/// at least) when the decimal exponent is < -4 or >= 6 (Go fixes the
/// precision at 6 for this decision when formatting shortest), plain decimal
/// otherwise; `+Inf`, `-Inf`, `NaN`; negative zero as `-0`. Does not
/// allocate: scrapes write hundreds of thousands of these.
pub fn write_float(out: &mut impl Sink, v: f64) {
    if v.is_nan() {
        out.put("NaN");
        return;
    }
    if v.is_infinite() {
        out.put(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == 0.0 {
        out.put(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let start = out.mark();
    // `{:e}` gives the shortest round-trip digits, e.g. `1.583781848025745e9`.
    out.put_fmt(format_args!("{:e}", v));
    let Some(e_at) = out.since(start).iter().rposition(|&b| b == b'e') else {
        return;
    };
    let e_at = start + e_at;
    let exp = std::str::from_utf8(out.since(e_at + 1))
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(0);
    if (-4..6).contains(&exp) {
        out.cut(start);
        out.put_fmt(format_args!("{}", v));
    } else {
        out.cut(e_at + 1);
        out.put(if exp < 0 { "-" } else { "+" });
        out.put_fmt(format_args!("{:02}", exp.unsigned_abs()));
    }
}

/// `v` formatted as by [`write_float`].
pub fn format_float(v: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, v);
    s
}

/// Like [`format_float`], but negative zero prints `0`, as in the text
/// exposition format.
#[cfg(test)]
pub fn format_float_text(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    format_float(v)
}

/// Go's `strconv.Quote` of raw bytes: double quotes, `\"`, `\\`, the usual
/// C escapes, `\xNN` for bytes that are not valid UTF-8, `\u`/`\U` for
/// non-printable characters, printable non-ASCII kept as is.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_quoted_str(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // valid_up_to guarantees `good` is UTF-8.
                push_quoted_str(&mut out, std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                for b in &bad[..n] {
                    let _ = write!(out, "\\x{:02x}", b);
                }
                rest = &bad[n..];
            }
        }
    }
    out.push('"');
    out
}

fn push_quoted_str(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
}

/// An approximation of Go's `unicode.IsPrint` for non-ASCII: everything but
/// C1 controls, the line/paragraph separators, soft hyphen, BOM, private use,
/// surrogates and noncharacters.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !((0x80..=0x9f).contains(&u)
        || u == 0xad
        || u == 0x2028
        || u == 0x2029
        || u == 0xfeff
        || (0xe000..=0xf8ff).contains(&u)
        || (0xfff9..=0xfffb).contains(&u)
        || (u & 0xfffe) == 0xfffe)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn write_date_time(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
}

/// Go's `time.RFC3339Nano` in UTC: up to nine fraction digits, trailing
/// zeros dropped, `Z` suffix. E.g. `2020-03-10T20:32:27.716605811Z`.
pub fn rfc3339_nanos(unix_nanos: i64) -> String {
    let mut out = String::with_capacity(30);
    write_date_time(&mut out, unix_nanos.div_euclid(1_000_000_000));
    let frac = unix_nanos.rem_euclid(1_000_000_000);
    if frac != 0 {
        let digits = format!("{:09}", frac);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// RFC 3339 in UTC with exactly three fraction digits, as promslog's `ts`.
pub fn rfc3339_millis(unix_nanos: i64) -> String {
    let mut out = String::with_capacity(24);
    write_date_time(&mut out, unix_nanos.div_euclid(1_000_000_000));
    let _ = write!(
        out,
        ".{:03}Z",
        unix_nanos.rem_euclid(1_000_000_000) / 1_000_000
    );
    out
}

/// RFC 3339 in UTC with whole seconds, as the UI shows push times.
pub fn rfc3339_seconds(unix_nanos: i64) -> String {
    let mut out = String::with_capacity(20);
    write_date_time(&mut out, unix_nanos.div_euclid(1_000_000_000));
    out.push('Z');
    out
}

/// Go's `time.Duration.String`: `5m0s`, `1h0m0s`, `1.5s`, `300ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        // Sub-second: the largest unit that keeps the integer part non-zero.
        let (unit, scale) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{}", fraction(nanos, scale), unit);
    }
    let total_secs = nanos / 1_000_000_000;
    let h = total_secs / 3600;
    let m = total_secs % 3600 / 60;
    let s_nanos = nanos - (h * 3600 + m * 60) * 1_000_000_000;
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{}h", h);
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{}m", m);
    }
    let _ = write!(out, "{}s", fraction(s_nanos, 1_000_000_000));
    out
}

fn fraction(value: u128, scale: u128) -> String {
    let int = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return int.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{:0width$}", frac, width = width);
    format!("{}.{}", int, digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 and √2 here are test inputs, not constants
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (1583781848.025745, "1.583781848025745e+09"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1000000.0, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (99.23, "99.23"),
            (1e21, "1e+21"),
            (18446744073709551616.0, "1.8446744073709552e+19"),
            (5e-324, "5e-324"),
            (3.14, "3.14"),
            (-3000.0, "-3000"),
            (42.0, "42"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (-0.0, "-0"),
            (1.5e-5, "1.5e-05"),
            (1e100, "1e+100"),
            (0.1, "0.1"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (1.4142135623730951, "1.4142135623730951"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(*v), *want, "formatting {v:e}");
        }
        assert_eq!(format_float_text(-0.0), "0");
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(quote(b"a=b"), r#""a=b""#);
        assert_eq!(quote(b"\xff"), r#""\xff""#);
        assert_eq!(quote(b"a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("Björn".as_bytes()), "\"Björn\"");
        assert_eq!(quote(b"a\xffb\xfe"), r#""a\xffb\xfe""#);
        assert_eq!(quote(b"\x01"), r#""\x01""#);
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nanos(1_583_872_347_716_605_811),
            "2020-03-10T20:32:27.716605811Z"
        );
        assert_eq!(
            rfc3339_nanos(1_583_872_347_500_000_000),
            "2020-03-10T20:32:27.5Z"
        );
        assert_eq!(
            rfc3339_millis(1_583_872_347_716_605_811),
            "2020-03-10T20:32:27.716Z"
        );
        assert_eq!(
            rfc3339_seconds(951_782_400_000_000_000),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(format_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(format_duration(Duration::from_secs(9900)), "2h45m0s");
        assert_eq!(format_duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}

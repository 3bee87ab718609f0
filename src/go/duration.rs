//! Go's `time.ParseDuration` syntax, which every duration flag and the web
//! configuration file use.

use std::time::Duration;

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`) as
/// `time.ParseDuration` does, except that negative durations are refused:
/// no pushgate flag has a meaning for them.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXAMPLES: &str = "expected a duration like 300ms, 1.5h or 2h45m";
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err("the duration must not be negative".to_string());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err(EXAMPLES.to_string());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = duration_component(rest).ok_or_else(|| EXAMPLES.to_string())?;
        total += nanos;
        rest = after;
    }
    // Go's durations are int64 nanoseconds (about 292 years).
    if total > i64::MAX as u128 {
        return Err("the duration is too long".to_string());
    }
    // The check above keeps both parts in range.
    let secs = (total / 1_000_000_000) as u64;
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// One `<number><unit>` from the front of `text`: its nanoseconds and the rest.
fn duration_component(text: &str) -> Option<(u128, &str)> {
    let int_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (int_digits, rest) = text.split_at(int_end);
    let (frac_digits, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let end = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            after_dot.split_at(end)
        }
        None => ("", rest),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let unit_end = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_end);
    let unit_nanos: u128 = match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    // More than 30 integer digits overflows any duration anyway.
    if int_digits.len() > 30 {
        return None;
    }
    let int: u128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    // Digits beyond nanosecond precision of an hour cannot change the result.
    let frac_digits = &frac_digits[..frac_digits.len().min(18)];
    let frac: u128 = if frac_digits.is_empty() {
        0
    } else {
        frac_digits.parse().ok()?
    };
    let scale = 10u128.pow(frac_digits.len() as u32);
    Some((int * unit_nanos + frac * unit_nanos / scale, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let table = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("300ms", Duration::from_millis(300)),
            ("1.5h", Duration::from_secs(5400)),
            ("2h45m", Duration::from_secs(9900)),
            ("1m30s", Duration::from_secs(90)),
            ("+5s", Duration::from_secs(5)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("10ns", Duration::from_nanos(10)),
            ("7us", Duration::from_micros(7)),
            ("7µs", Duration::from_micros(7)),
            ("7μs", Duration::from_micros(7)),
            ("1h1m1s1ms", Duration::from_millis(3_661_001)),
            ("1.000000001s", Duration::from_nanos(1_000_000_001)),
        ];
        for (text, expected) in table {
            assert_eq!(parse_duration(text), Ok(expected), "{}", text);
        }
    }

    #[test]
    fn invalid_go_durations() {
        for text in [
            "", "-1s", "-0", "5", "s", ".s", "1x", "1h-1m", "+", "3000000h", "1.5.5s",
        ] {
            assert!(parse_duration(text).is_err(), "{:?} was accepted", text);
        }
    }
}

//! Flag values: Go durations, byte sizes, counts, listen addresses, log
//! settings. Each parser takes the text of one value and returns the value
//! or the reason it is refused; `args` turns the reason into the one-line
//! command-line error that names the flag.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::ListenAddress;
use crate::log;

pub(super) fn parse_log_level(value: &str) -> Result<log::Level, String> {
    log::Level::parse(value).ok_or_else(|| "expected one of debug, info, warn, error".to_string())
}

pub(super) fn parse_log_format(value: &str) -> Result<log::Format, String> {
    log::Format::parse(value).ok_or_else(|| "expected logfmt or json".to_string())
}

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

/// A duration longer than zero.
pub(super) fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).and_then(|d| {
        if d.is_zero() {
            Err("must be more than 0s".to_string())
        } else {
            Ok(d)
        }
    })
}

/// A count of at least 1.
pub(super) fn parse_positive_count(text: &str) -> Result<usize, String> {
    parse_count(text).and_then(|n| {
        if n == 0 {
            Err("must be at least 1".to_string())
        } else {
            Ok(n)
        }
    })
}

/// A plain non-negative count.
pub(super) fn parse_count(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .map_err(|_| "expected a non-negative integer".to_string())
}

/// A byte count: digits, optionally followed by `KiB`, `MiB` or `GiB`.
pub(super) fn parse_byte_size(text: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a number of bytes, optionally with KiB, MiB or GiB";
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let shift = match suffix {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(EXPECTED.to_string()),
    };
    let count: u64 = digits.parse().map_err(|_| EXPECTED.to_string())?;
    count
        .checked_mul(1 << shift)
        .ok_or_else(|| "the size is too large".to_string())
}

/// Parses a listen address. Only IP literals are accepted (plus `localhost`)
/// because a static binary has no resolver worth trusting at start-up.
pub(super) fn parse_listen_address(text: &str) -> Result<ListenAddress, String> {
    if text.starts_with("vsock://") {
        return Err("vsock listen addresses are not supported".to_string());
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Ok(ListenAddress::Socket(socket));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("missing port, expected host:port, :port or [v6]:port".to_string());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid port {:?}, expected 0-65535", port))?;
    match host {
        "" => Ok(ListenAddress::AnyHost(port)),
        "localhost" => Ok(ListenAddress::Socket(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            port,
        )))),
        _ if host.contains(':') && !host.starts_with('[') => {
            Err("IPv6 addresses need brackets, e.g. [::1]:9091".to_string())
        }
        _ => Err(format!(
            "host {:?} is not an IP address; pushgate binds IP addresses only (no DNS in a static binary)",
            host
        )),
    }
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

    #[test]
    fn listen_addresses() {
        let socket = |s: &str| match s.parse::<SocketAddr>() {
            Ok(addr) => ListenAddress::Socket(addr),
            Err(err) => panic!("{}: {}", s, err),
        };
        let table = [
            (":9091", ListenAddress::AnyHost(9091)),
            (":0", ListenAddress::AnyHost(0)),
            ("127.0.0.1:0", socket("127.0.0.1:0")),
            ("0.0.0.0:9091", socket("0.0.0.0:9091")),
            ("[::1]:9091", socket("[::1]:9091")),
            ("[::]:65535", socket("[::]:65535")),
            ("localhost:9091", socket("127.0.0.1:9091")),
        ];
        for (text, expected) in table {
            assert_eq!(parse_listen_address(text), Ok(expected), "{}", text);
        }
    }

    #[test]
    fn invalid_listen_addresses() {
        let table = [
            ("example.com:9091", "IP addresses only"),
            ("vsock://3:9091", "not supported"),
            ("9091", "missing port"),
            (":", "invalid port"),
            (":65536", "invalid port"),
            (":http", "invalid port"),
            ("127.0.0.1:-1", "invalid port"),
            ("::1:9091", "need brackets"),
            ("[fe80::1%eth0]:9091", "not an IP address"),
        ];
        for (text, expected) in table {
            match parse_listen_address(text) {
                Err(message) => assert!(message.contains(expected), "{}: {}", text, message),
                Ok(addr) => panic!("{}: accepted as {:?}", text, addr),
            }
        }
    }

    #[test]
    fn byte_sizes() {
        let table = [
            ("0", 0),
            ("1024", 1024),
            ("1KiB", 1 << 10),
            ("64MiB", 64 << 20),
            ("2GiB", 2 << 30),
        ];
        for (text, expected) in table {
            assert_eq!(parse_byte_size(text), Ok(expected), "{}", text);
        }
        for text in [
            "",
            "MiB",
            "1.5MiB",
            "1 MiB",
            "1mib",
            "99999999999999999999GiB",
        ] {
            assert!(parse_byte_size(text).is_err(), "{:?} was accepted", text);
        }
    }
}

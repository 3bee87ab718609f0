//! Structured log lines on stderr in promslog style (logfmt or JSON).
//!
//! Deliberately tiny instead of a logging crate: one global level and format,
//! set once at start, and four functions that take a message and key/value
//! pairs. The caller's `file:line` comes from `#[track_caller]`.

use std::fmt::{self, Display, Write as _};
use std::io::Write as _;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::json::quote_no_html;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Logfmt = 0,
    Json = 1,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "logfmt" => Some(Format::Logfmt),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Logfmt => "logfmt",
            Format::Json => "json",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static FORMAT: AtomicU8 = AtomicU8::new(Format::Logfmt as u8);

/// Sets the level filter and output format for the rest of the process.
pub fn init(level: Level, format: Format) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    FORMAT.store(format as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Key/value pairs attached to a log line.
pub type Fields<'a> = &'a [(&'a str, &'a dyn Display)];

#[track_caller]
pub fn debug(msg: &str, fields: Fields) {
    log(Level::Debug, Location::caller(), msg, fields)
}

#[track_caller]
pub fn info(msg: &str, fields: Fields) {
    log(Level::Info, Location::caller(), msg, fields)
}

#[track_caller]
pub fn warn(msg: &str, fields: Fields) {
    log(Level::Warn, Location::caller(), msg, fields)
}

#[track_caller]
/// Logs a panic caught while answering a request for `path`: the payload's
/// message when it is a string, as the default panic hook would print it.
pub fn request_panicked(path: &[u8], payload: &(dyn std::any::Any + Send)) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    error(
        "request handler panicked",
        &[("path", &String::from_utf8_lossy(path)), ("panic", &what)],
    );
}

pub fn error(msg: &str, fields: Fields) {
    log(Level::Error, Location::caller(), msg, fields)
}

fn log(level: Level, caller: &Location, msg: &str, fields: Fields) {
    if !enabled(level) {
        return;
    }
    let json = FORMAT.load(Ordering::Relaxed) == Format::Json as u8;
    let line = format_line(json, level, caller, msg, fields);
    // One write per line so concurrent lines do not interleave; a closed
    // stderr must not take the process down.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(json: bool, level: Level, caller: &Location, msg: &str, fields: Fields) -> String {
    let ts = crate::go::rfc3339_millis(crate::go::unix_nanos_now());
    let file = caller.file().rsplit('/').next().unwrap_or(caller.file());
    let caller = format!("{}:{}", file, caller.line());
    let mut pairs: Vec<(&str, String)> = vec![
        ("ts", ts),
        ("caller", caller),
        ("level", level.as_str().to_string()),
        ("msg", msg.to_string()),
    ];
    for (k, v) in fields {
        pairs.push((k, v.to_string()));
    }
    let mut out = String::new();
    if json {
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", quote_no_html(k), quote_no_html(v));
        }
        out.push('}');
    } else {
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(&logfmt_value(v));
        }
    }
    out.push('\n');
    out
}

/// Quotes a logfmt value when it holds spaces, quotes, `=` or control
/// characters, so client-supplied text cannot forge fields or lines.
fn logfmt_value(v: &str) -> String {
    let needs_quotes = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if needs_quotes {
        format!("{:?}", v)
    } else {
        v.to_string()
    }
}

/// Displays an error chain or any `Debug` value on one line.
pub struct OneLine<T>(pub T);

impl<T: Display> Display for OneLine<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        f.write_str(&s.replace('\n', " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_values_with_spaces() {
        let loc = Location::caller();
        let line = format_line(
            false,
            Level::Info,
            loc,
            "starting pushgate",
            &[("k", &"a b")],
        );
        assert!(
            line.contains("level=info msg=\"starting pushgate\" k=\"a b\"\n"),
            "{line}"
        );
        assert!(line.starts_with("ts="), "{line}");
    }

    #[test]
    fn json_escapes() {
        let loc = Location::caller();
        let line = format_line(true, Level::Error, loc, "x\"y", &[("err", &"a\nb")]);
        assert!(line.contains(r#""msg":"x\"y","err":"a\nb"}"#), "{line}");
    }

    #[test]
    fn levels_order() {
        assert!(
            Level::Error > Level::Warn && Level::Warn > Level::Info && Level::Info > Level::Debug
        );
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("trace"), None);
    }
}

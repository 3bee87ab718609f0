//! Equality selectors over grouping labels, for bulk deletes:
//! `{job="batch",env="dev"}` (braces optional).
//!
//! Only `=` is supported: a bulk delete must say exactly what it removes, so
//! regular expressions and negations are refused rather than guessed at.
//! As in Prometheus, `name=""` matches groups that lack the label.

use std::fmt;

use crate::model::{is_legacy_label_name, GroupingKey};

/// One parsed selector: every matcher must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    matchers: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    msg: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for SelectorError {}

fn error(selector: &str, what: &str) -> SelectorError {
    SelectorError {
        msg: format!("invalid selector {:?}: {}", selector, what),
    }
}

impl Selector {
    /// Parses `{a="x",b="y"}` or `a="x",b="y"`. At least one matcher with a
    /// non-empty value is required, so a selector can never mean "everything".
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let trimmed = text.trim();
        let inner = match trimmed.strip_prefix('{') {
            Some(rest) => rest
                .strip_suffix('}')
                .ok_or_else(|| error(text, "missing closing '}'"))?,
            None => trimmed,
        };
        let mut matchers = Vec::new();
        let mut rest = inner.trim_start();
        while !rest.is_empty() {
            let name_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            if !is_legacy_label_name(name) {
                return Err(error(text, "expected a label name"));
            }
            rest = rest[name_end..].trim_start();
            if rest.starts_with("!=") || rest.starts_with("=~") || rest.starts_with("!~") {
                return Err(error(
                    text,
                    "only equality matchers (name=\"value\") are supported",
                ));
            }
            rest = rest
                .strip_prefix('=')
                .ok_or_else(|| error(text, "expected '=' after a label name"))?
                .trim_start();
            let (value, after) =
                quoted(rest).ok_or_else(|| error(text, "expected a double-quoted value"))?;
            matchers.push((name.to_string(), value));
            rest = after.trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r.trim_start(),
                None if rest.is_empty() => {}
                None => return Err(error(text, "expected ',' between matchers")),
            }
        }
        if matchers.iter().all(|(_, v)| v.is_empty()) {
            return Err(error(
                text,
                "needs at least one matcher with a non-empty value",
            ));
        }
        Ok(Selector { matchers })
    }

    /// True if and only if every matcher holds for the group's labels.
    pub fn matches(&self, key: &GroupingKey) -> bool {
        self.matchers
            .iter()
            .all(|(name, value)| key.get(name).unwrap_or("") == value)
    }
}

/// A double-quoted string with `\"`, `\\` and `\n` escapes at the start of
/// `s`; returns it and the text after the closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Label;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::new(pairs.iter().map(|(n, v)| Label::new(*n, *v)))
    }

    #[test]
    fn parses_with_and_without_braces() {
        let a = Selector::parse(r#"{job="batch", env="dev"}"#).expect("valid");
        let b = Selector::parse(r#"job="batch",env="dev""#).expect("valid");
        assert_eq!(a, b);
        assert!(a.matches(&key(&[("job", "batch"), ("env", "dev"), ("instance", "x")])));
        assert!(!a.matches(&key(&[("job", "batch"), ("env", "prod")])));
        assert!(!a.matches(&key(&[("job", "batch")])));
    }

    #[test]
    fn empty_value_matches_missing_label() {
        let s = Selector::parse(r#"{job="j",instance=""}"#).expect("valid");
        assert!(s.matches(&key(&[("job", "j")])));
        assert!(!s.matches(&key(&[("job", "j"), ("instance", "i")])));
    }

    #[test]
    fn escapes_in_values() {
        let s = Selector::parse(r#"{job="a\"b\\c"}"#).expect("valid");
        assert!(s.matches(&key(&[("job", "a\"b\\c")])));
    }

    #[test]
    fn rejects_what_it_cannot_do_exactly() {
        let cases = [
            ("{}", "non-empty value"),
            (r#"{job=""}"#, "non-empty value"),
            (r#"{job=~"a.*"}"#, "only equality"),
            (r#"{job!="a"}"#, "only equality"),
            (r#"{job="a""#, "closing"),
            (r#"{job=a}"#, "double-quoted"),
            (r#"{1job="a"}"#, "label name"),
            (r#"{job="a" env="b"}"#, "','"),
        ];
        for (input, want) in cases {
            let err = Selector::parse(input).expect_err(input).to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}

//! Media types: the exposition formats' content types, `Content-Type`
//! parsing as Go's `mime.ParseMediaType` does it and `Accept` parsing as
//! prometheus/common's negotiation does it. The protobuf type and its
//! parameters are named here once for pushes and scrapes alike.

/// The exact Content-Type of a text scrape (Prometheus 3 rejects scrapes
/// without a parseable type).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Content type of delimited protobuf pushes and scrapes.
pub const DELIMITED_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Media type of every protobuf exposition format.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.google.protobuf";

/// The `proto` parameter naming the message type.
pub const PROTO_PARAM_VALUE: &str = "io.prometheus.client.MetricFamily";

/// The `encoding` parameter selecting varint-delimited framing.
pub const ENCODING_PARAM_VALUE: &str = "delimited";

/// True if and only if a lower-cased media type and its parameters (names
/// lower-cased, values exact) select delimited `MetricFamily` protobuf.
pub fn is_delimited_protobuf(media_type: &str, params: &[(String, String)]) -> bool {
    media_type == PROTOBUF_MEDIA_TYPE
        && param(params, "proto") == Some(PROTO_PARAM_VALUE)
        && param(params, "encoding") == Some(ENCODING_PARAM_VALUE)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses a media type with parameters the way Go's `mime.ParseMediaType`
/// does: the type and parameter names are lower-cased, values are tokens or
/// quoted strings, a trailing `;` is allowed. Returns `None` if the header is
/// malformed or names a parameter twice.
pub fn parse_media_type(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let (base, mut rest) = match header.find(';') {
        Some(i) => (&header[..i], &header[i..]),
        None => (header, ""),
    };
    let media_type = base.trim().to_ascii_lowercase();
    let (major, minor) = media_type.split_once('/')?;
    if !is_token(major) || !is_token(minor) {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let after_semicolon = rest.strip_prefix(';')?.trim_start();
        if after_semicolon.is_empty() {
            break; // trailing semicolon
        }
        let (name, after_name) = split_token(after_semicolon);
        if name.is_empty() {
            return None;
        }
        let after_eq = after_name.trim_start().strip_prefix('=')?.trim_start();
        let (value, after_value) = split_value(after_eq)?;
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(k, _)| *k == name) {
            return None;
        }
        params.push((name, value));
        rest = after_value;
    }
    Some((media_type, params))
}

fn is_tspecial(c: char) -> bool {
    "()<>@,;:\\\"/[]?=".contains(c)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !is_tspecial(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Splits the longest token prefix off `s`.
fn split_token(s: &str) -> (&str, &str) {
    let end = s.find(|c| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Splits a parameter value (a token or a quoted string) off `s`.
fn split_value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let (token, rest) = split_token(s);
        return (!token.is_empty()).then(|| (token.to_string(), rest));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            // As Go: a backslash escapes only a special character, so an
            // unescaped Windows path in a quoted value survives.
            '\\' => match quoted[i + 1..].chars().next() {
                Some(special) if is_tspecial(special) => {
                    value.push(special);
                    chars.next();
                }
                _ => value.push('\\'),
            },
            '\r' | '\n' => return None,
            _ => value.push(c),
        }
    }
    None
}

/// One media range of an `Accept` header, read as leniently as
/// prometheus/common's `goautoneg` reads it: parameters without `=` are
/// skipped, values lose surrounding quotes, an unparsable `q` is 0.
pub struct MediaRange {
    /// Type and subtype, lower-cased.
    pub essence: String,
    /// Parameters other than `q`, names lower-cased.
    pub params: Vec<(String, String)>,
    pub q: f32,
}

impl MediaRange {
    fn parse(s: &str) -> Option<MediaRange> {
        let mut parts = s.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_string();
            if k == "q" {
                q = v.parse().unwrap_or(0.0);
            } else {
                params.push((k, v));
            }
        }
        Some(MediaRange { essence, params, q })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// The media ranges of an `Accept` header by descending q, ties in header
/// order.
pub fn parse_accept(accept: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<(usize, MediaRange)> = accept
        .split(',')
        .filter_map(MediaRange::parse)
        .enumerate()
        .collect();
    ranges.sort_by(|(i, a), (j, b)| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(i.cmp(j))
    });
    ranges.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_quoted_values_unescape() {
        let (media_type, params) =
            parse_media_type("Text/Plain; A=\"x\\\"y\\z\"; b=z").expect("valid");
        assert_eq!(media_type, "text/plain");
        assert_eq!(
            params,
            vec![
                ("a".to_string(), "x\"y\\z".to_string()),
                ("b".to_string(), "z".to_string())
            ]
        );
    }

    #[test]
    fn accept_ranges_sort_by_q_then_header_order() {
        let ranges = parse_accept("a/b;q=0.5, c/d;x=\"y\", , e/f;q=0.5;junk, g/h;q=bad");
        let order: Vec<_> = ranges.iter().map(|r| (r.essence.as_str(), r.q)).collect();
        assert_eq!(
            order,
            [("c/d", 1.0), ("a/b", 0.5), ("e/f", 0.5), ("g/h", 0.0)]
        );
        assert_eq!(ranges[0].param("x"), Some("y"));
    }

    #[test]
    fn pushes_and_scrapes_name_the_same_protobuf_type() {
        let (media_type, params) = parse_media_type(DELIMITED_CONTENT_TYPE).expect("valid");
        assert!(is_delimited_protobuf(&media_type, &params));
        let accepted = parse_accept(DELIMITED_CONTENT_TYPE);
        assert!(is_delimited_protobuf(
            &accepted[0].essence,
            &accepted[0].params
        ));
    }
}

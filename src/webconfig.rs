//! The `--web.config.file` format (Prometheus exporter-toolkit YAML):
//! reading, parsing and strict validation into a [`WebConfig`].
//!
//! Owns the schema, [`WebConfigError`] and the bcrypt hash well-formedness
//! check; the `tls_server_config` section is in [`tls`]. It does not check
//! requests or watch the file (that is `auth`), nor read certificates (that
//! is `crate::tls`).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use yaml_rust2::{Yaml, YamlLoader};

pub mod tls;

pub use tls::{ClientAuth, Pem, TlsServerConfig, TlsVersion};

/// A web config file larger than this is refused: a real one is a few lines,
/// and the whole file is held in memory and re-read whenever it changes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Key of the pushgate-only write credentials (README, "Authentication").
pub const WRITE_USERS_KEY: &str = "pushgate_write_users";

const TOP_LEVEL_KEYS: &[&str] = &[
    "basic_auth_users",
    "http_server_config",
    "rate_limit",
    "tls_server_config",
    WRITE_USERS_KEY,
];

/// Response headers an operator may set, with their allowed values (`None` =
/// any printable ASCII). The list and the exact-case values follow the
/// exporter-toolkit, so one file works for both.
const CONFIGURABLE_HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Content-Security-Policy", None),
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
];

const HASH_HINT: &str = "expected $2a$, $2b$ or $2y$, a two-digit cost from 04 to 31, '$' \
     and 53 characters of salt and hash, as printed by `htpasswd -nBC 10 \"\" | tr -d ':\\n'`";

/// A validated web configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// `basic_auth_users`: may read; may also write unless `write_users` is set.
    pub basic_auth_users: Vec<User>,
    /// `pushgate_write_users`: when set, the only users who may write.
    pub write_users: Option<Vec<User>>,
    /// `http_server_config.headers`, canonical names, in file order.
    pub headers: Vec<(String, String)>,
    /// `http_server_config.http2`: accepted for compatibility, has no effect.
    pub http2: bool,
    /// `rate_limit`; `None` when absent or its interval is 0.
    pub rate_limit: Option<RateLimit>,
    /// `tls_server_config`; `None` when absent or empty (plain HTTP).
    pub tls: Option<TlsServerConfig>,
}

/// One basic-auth user and its well-formed bcrypt hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub hash: String,
}

impl fmt::Debug for User {
    // The hash stays out of logs and test output: it can be attacked offline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "User({:?}, cost {})", self.name, bcrypt_cost(&self.hash))
    }
}

/// A token bucket: `burst` requests at once, one more per `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub interval: Duration,
    pub burst: u32,
}

/// Why a web config file cannot be used; the process exits 1 at start, or
/// answers 500 while the file stays broken at runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfigError {
    path: Option<String>,
    /// Dotted key the problem is about; empty for file-level problems.
    key: String,
    problem: String,
}

impl WebConfigError {
    pub(crate) fn at(key: impl Into<String>, problem: impl Into<String>) -> WebConfigError {
        WebConfigError {
            path: None,
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn file(problem: impl Into<String>) -> WebConfigError {
        WebConfigError::at("", problem)
    }

    pub(crate) fn in_file(mut self, path: &Path) -> WebConfigError {
        self.path = Some(path.display().to_string());
        self
    }

    /// The dotted key the problem is about (`basic_auth_users.alice`), or
    /// empty when the file as a whole is unusable.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "web config file {:?}: ", path)?,
            None => f.write_str("web config: ")?,
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        // YAML errors quote file content; keep the message on one line.
        f.write_str(&self.problem.replace(['\n', '\r'], " "))
    }
}

impl std::error::Error for WebConfigError {}

/// Reads and validates the file at `path` (at most [`MAX_FILE_BYTES`]).
/// Relative certificate paths are resolved against the file's directory.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let mut config = read_limited(path)
        .and_then(|text| parse(&text))
        .map_err(|e| e.in_file(path))?;
    if let Some(tls) = &mut config.tls {
        tls.resolve_paths(path.parent().unwrap_or(Path::new("")));
    }
    Ok(config)
}

fn read_limited(path: &Path) -> Result<String, WebConfigError> {
    let file = std::fs::File::open(path).map_err(|e| WebConfigError::file(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| WebConfigError::file(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(WebConfigError::file(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| WebConfigError::file("not UTF-8"))
}

/// Parses and validates a web config document. Unknown keys, wrong types,
/// malformed hashes, headers outside the toolkit's list and TLS settings
/// pushgate cannot serve are errors naming the key. Certificate paths stay
/// as written ([`load`] resolves them).
pub fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| WebConfigError::file(format!("invalid YAML: {e}")))?;
    let root = match docs.as_slice() {
        [] => return Ok(WebConfig::default()),
        [root] => root,
        _ => return Err(WebConfigError::file("more than one YAML document")),
    };
    let mut config = WebConfig::default();
    for (key, value) in mapping("", root)? {
        match key {
            "basic_auth_users" => config.basic_auth_users = users(key, value)?,
            WRITE_USERS_KEY => config.write_users = Some(write_users(value)?),
            "http_server_config" => http_server_config(value, &mut config)?,
            "rate_limit" => config.rate_limit = rate_limit(value)?,
            "tls_server_config" => config.tls = tls::parse(value)?,
            _ => return Err(unknown_key("", key, TOP_LEVEL_KEYS)),
        }
    }
    check_names_are_distinct(&config)?;
    Ok(config)
}

/// The string-keyed entries of a mapping; `null` (an empty value) is an
/// empty mapping, as in the toolkit.
fn mapping<'a>(key: &str, value: &'a Yaml) -> Result<Vec<(&'a str, &'a Yaml)>, WebConfigError> {
    let hash = match value {
        Yaml::Null => return Ok(Vec::new()),
        Yaml::Hash(hash) => hash,
        other => {
            return Err(WebConfigError::at(
                key,
                format!("expected a mapping, got {}", kind(other)),
            ))
        }
    };
    hash.iter()
        .map(|(k, v)| match k {
            Yaml::String(name) => Ok((name.as_str(), v)),
            other => Err(WebConfigError::at(
                key,
                format!(
                    "key {} is {}; quote it to make it a string",
                    scalar_text(other).unwrap_or_default(),
                    kind(other)
                ),
            )),
        })
        .collect()
}

fn unknown_key(parent: &str, key: &str, known: &[&str]) -> WebConfigError {
    WebConfigError::at(
        join(parent, key),
        format!("unknown key (known: {})", known.join(", ")),
    )
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn users(key: &str, value: &Yaml) -> Result<Vec<User>, WebConfigError> {
    let mut users = Vec::new();
    for (name, hash) in mapping(key, value)? {
        let at = join(key, name);
        // Basic auth splits user and password at the first colon.
        if name.contains(':') {
            return Err(WebConfigError::at(
                at,
                "user names cannot contain ':' (basic auth could never match them)",
            ));
        }
        let Yaml::String(hash) = hash else {
            return Err(WebConfigError::at(
                at,
                format!("expected a bcrypt hash string, got {}", kind(hash)),
            ));
        };
        check_bcrypt_hash(hash).map_err(|problem| WebConfigError::at(&at, problem))?;
        users.push(User {
            name: name.to_string(),
            hash: hash.clone(),
        });
    }
    Ok(users)
}

fn write_users(value: &Yaml) -> Result<Vec<User>, WebConfigError> {
    let users = users(WRITE_USERS_KEY, value)?;
    if users.is_empty() {
        // An empty list would silently fall back to basic_auth_users.
        return Err(WebConfigError::at(
            WRITE_USERS_KEY,
            "lists no users; remove the key to let basic_auth_users write",
        ));
    }
    Ok(users)
}

/// One name in both lists would make the password that works depend on the
/// endpoint; refusing it keeps the rule "one user, one password".
fn check_names_are_distinct(config: &WebConfig) -> Result<(), WebConfigError> {
    let Some(writers) = &config.write_users else {
        return Ok(());
    };
    match writers
        .iter()
        .find(|w| config.basic_auth_users.iter().any(|r| r.name == w.name))
    {
        Some(both) => Err(WebConfigError::at(
            join(WRITE_USERS_KEY, &both.name),
            "also listed in basic_auth_users; write users may read too, so list each user once",
        )),
        None => Ok(()),
    }
}

fn http_server_config(value: &Yaml, config: &mut WebConfig) -> Result<(), WebConfigError> {
    const PARENT: &str = "http_server_config";
    for (key, value) in mapping(PARENT, value)? {
        match key {
            "http2" => {
                config.http2 = match value {
                    Yaml::Boolean(b) => *b,
                    other => {
                        return Err(WebConfigError::at(
                            join(PARENT, key),
                            format!("expected true or false, got {}", kind(other)),
                        ))
                    }
                }
            }
            "headers" => config.headers = headers(value)?,
            _ => return Err(unknown_key(PARENT, key, &["headers", "http2"])),
        }
    }
    Ok(())
}

fn headers(value: &Yaml) -> Result<Vec<(String, String)>, WebConfigError> {
    const PARENT: &str = "http_server_config.headers";
    let mut headers = Vec::new();
    for (name, value) in mapping(PARENT, value)? {
        let at = join(PARENT, name);
        let Some((_, allowed)) = CONFIGURABLE_HEADERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = CONFIGURABLE_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(WebConfigError::at(
                at,
                format!(
                    "this header cannot be configured (allowed: {})",
                    names.join(", ")
                ),
            ));
        };
        let text = scalar_text(value).ok_or_else(|| {
            WebConfigError::at(&at, format!("expected a string, got {}", kind(value)))
        })?;
        if !text
            .bytes()
            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        {
            return Err(WebConfigError::at(
                at,
                "the value must be printable ASCII on one line",
            ));
        }
        if let Some(allowed) = allowed {
            if !allowed.contains(&text.as_str()) {
                return Err(WebConfigError::at(
                    at,
                    format!("expected one of {}, got {:?}", allowed.join(", "), text),
                ));
            }
        }
        headers.push((name.to_string(), text));
    }
    Ok(headers)
}

fn rate_limit(value: &Yaml) -> Result<Option<RateLimit>, WebConfigError> {
    const PARENT: &str = "rate_limit";
    let mut interval = Duration::ZERO;
    let mut burst: u32 = 0;
    for (key, value) in mapping(PARENT, value)? {
        let at = join(PARENT, key);
        match (key, value) {
            ("interval", Yaml::String(text)) => {
                interval =
                    crate::go::parse_duration(text).map_err(|e| WebConfigError::at(&at, e))?;
            }
            ("interval", Yaml::Integer(0)) => interval = Duration::ZERO,
            ("interval", other) => {
                return Err(WebConfigError::at(
                    at,
                    format!("expected a duration like 100ms or 1s, got {}", kind(other)),
                ))
            }
            ("burst", Yaml::Integer(n)) => {
                burst = u32::try_from(*n).map_err(|_| {
                    WebConfigError::at(&at, format!("expected 0 to {}, got {n}", u32::MAX))
                })?;
            }
            ("burst", other) => {
                return Err(WebConfigError::at(
                    at,
                    format!("expected a whole number, got {}", kind(other)),
                ))
            }
            _ => return Err(unknown_key(PARENT, key, &["burst", "interval"])),
        }
    }
    if interval.is_zero() {
        return Ok(None);
    }
    if burst == 0 {
        // The toolkit would then refuse every request.
        return Err(WebConfigError::at(
            "rate_limit.burst",
            "must be at least 1 when an interval is set (an interval of 0 turns the limit off)",
        ));
    }
    Ok(Some(RateLimit { interval, burst }))
}

/// Checks that `hash` is a bcrypt hash this build can verify: `$2a$`, `$2b$`
/// or `$2y$`, cost 04–31, and 53 characters of canonical bcrypt base64. The
/// hash itself never appears in the message: it may be a pasted password.
pub fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| hash.strip_prefix(prefix))
        .ok_or_else(|| format!("not a bcrypt hash: {HASH_HINT}"))?;
    let bytes = rest.as_bytes();
    if bytes.len() != 2 + 1 + 53 || bytes[2] != b'$' {
        return Err(format!("malformed bcrypt hash: {HASH_HINT}"));
    }
    let cost = std::str::from_utf8(&bytes[..2])
        .ok()
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok())
        .ok_or_else(|| format!("malformed bcrypt cost: {HASH_HINT}"))?;
    if !(4..=31).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside 04 to 31"));
    }
    let (salt, digest) = bytes[3..].split_at(22);
    let decodes = |part: &[u8]| bcrypt::BASE_64.decode(part).is_ok();
    if !decodes(salt) || !decodes(digest) {
        return Err(format!("malformed bcrypt salt or digest: {HASH_HINT}"));
    }
    Ok(())
}

/// The cost of a hash accepted by [`check_bcrypt_hash`] (its digits 4–5).
pub fn bcrypt_cost(hash: &str) -> u32 {
    hash.get(4..6).and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// The text of a scalar as YAML wrote it, for values that are strings to us
/// (`X-XSS-Protection: 0` is an integer to YAML).
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Real(_) => "a number",
        Yaml::Integer(_) => "an integer",
        Yaml::String(_) => "a string",
        Yaml::Boolean(_) => "a boolean",
        Yaml::Array(_) => "a list",
        Yaml::Hash(_) => "a mapping",
        Yaml::Alias(_) => "an alias",
        Yaml::Null => "nothing",
        Yaml::BadValue => "an invalid value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid cost-4 hash of "secret" (generated once; verifying is cheap).
    fn hash_of(password: &str) -> String {
        bcrypt::hash(password, 4).expect("bcrypt at cost 4")
    }

    fn err(text: &str) -> WebConfigError {
        parse(text).expect_err("config must be refused")
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        assert_eq!(parse(""), Ok(WebConfig::default()));
        assert_eq!(parse("# only a comment\n"), Ok(WebConfig::default()));
    }

    #[test]
    fn basic_auth_users_are_read_in_file_order() {
        let (a, b) = (hash_of("pa"), hash_of("pb"));
        let config = parse(&format!("basic_auth_users:\n  bob: {a}\n  alice: '{b}'\n"))
            .expect("valid config");
        let names: Vec<&str> = config
            .basic_auth_users
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, ["bob", "alice"]);
        assert_eq!(config.basic_auth_users[1].hash, b);
        assert_eq!(config.write_users, None);
    }

    #[test]
    fn every_hash_prefix_is_accepted() {
        let digest = &hash_of("x")[7..];
        for prefix in ["$2a$04$", "$2b$04$", "$2y$04$"] {
            let text = format!("basic_auth_users: {{u: '{prefix}{digest}'}}");
            assert!(parse(&text).is_ok(), "{prefix}");
        }
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let good = hash_of("x");
        let digest = &good[7..];
        let cases = [
            (
                "plaintext password",
                "secret".to_string(),
                "not a bcrypt hash",
            ),
            ("2x prefix", format!("$2x$04${digest}"), "not a bcrypt hash"),
            ("cost 03", format!("$2b$03${digest}"), "cost 3 is outside"),
            ("cost 32", format!("$2b$32${digest}"), "cost 32 is outside"),
            (
                "cost not digits",
                format!("$2b$1a${digest}"),
                "malformed bcrypt cost",
            ),
            ("one short", good[..59].to_string(), "malformed bcrypt hash"),
            ("one long", format!("{good}x"), "malformed bcrypt hash"),
            (
                "bad alphabet",
                format!("{}!", &good[..59]),
                "salt or digest",
            ),
            (
                "non-canonical salt end",
                format!("$2b$04${}{}", "a".repeat(21) + "b", &digest[22..]),
                "salt or digest",
            ),
        ];
        for (name, hash, expected) in cases {
            let e = err(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
            assert_eq!(e.key(), "basic_auth_users.alice", "{name}");
            assert!(e.to_string().contains(expected), "{name}: {e}");
            assert!(
                !e.to_string().contains(&hash),
                "{name} echoes the hash: {e}"
            );
        }
    }

    #[test]
    fn user_names_with_colons_or_non_strings_are_refused() {
        let h = hash_of("x");
        let e = err(&format!("basic_auth_users: {{'a:b': '{h}'}}"));
        assert_eq!(e.key(), "basic_auth_users.a:b");
        let e = err(&format!("basic_auth_users: {{123: '{h}'}}"));
        assert!(
            e.to_string().contains("key 123 is an integer; quote it"),
            "{e}"
        );
        let e = err("basic_auth_users: {alice: 42}");
        assert!(
            e.to_string().contains("expected a bcrypt hash string"),
            "{e}"
        );
    }

    #[test]
    fn write_users_are_separate() {
        let (r, w) = (hash_of("r"), hash_of("w"));
        let config = parse(&format!(
            "basic_auth_users: {{reader: '{r}'}}\npushgate_write_users: {{writer: '{w}'}}\n"
        ))
        .expect("valid config");
        let writers = config.write_users.expect("write users set");
        assert_eq!(writers.len(), 1);
        assert_eq!(writers[0].name, "writer");
        assert_eq!(config.basic_auth_users[0].name, "reader");
    }

    #[test]
    fn write_users_must_not_be_empty_or_shared() {
        let e = err("pushgate_write_users: {}");
        assert_eq!(e.key(), "pushgate_write_users");
        let e = err("pushgate_write_users:");
        assert!(e.to_string().contains("lists no users"), "{e}");
        let h = hash_of("x");
        let e = err(&format!(
            "basic_auth_users: {{u: '{h}'}}\npushgate_write_users: {{u: '{h}'}}"
        ));
        assert_eq!(e.key(), "pushgate_write_users.u");
    }

    #[test]
    fn headers_and_http2_are_read() {
        let config = parse(
            "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    \
             X-XSS-Protection: 0\n    Content-Security-Policy: \"default-src 'self'\"\n    \
             X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n",
        )
        .expect("valid config");
        assert!(!config.http2);
        assert_eq!(
            config.headers,
            [
                ("X-Frame-Options", "deny"),
                ("X-XSS-Protection", "0"),
                ("Content-Security-Policy", "default-src 'self'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Strict-Transport-Security", "max-age=31536000"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let cases = [
            (
                "other header",
                "Server: x",
                "http_server_config.headers.Server",
            ),
            (
                "name case",
                "x-frame-options: deny",
                "http_server_config.headers.x-frame-options",
            ),
            (
                "frame value",
                "X-Frame-Options: allow",
                "http_server_config.headers.X-Frame-Options",
            ),
            (
                "frame case",
                "X-Frame-Options: DENY",
                "http_server_config.headers.X-Frame-Options",
            ),
            (
                "nosniff value",
                "X-Content-Type-Options: sniff",
                "http_server_config.headers.X-Content-Type-Options",
            ),
            (
                "newline",
                "X-XSS-Protection: \"1\\nX: y\"",
                "http_server_config.headers.X-XSS-Protection",
            ),
            (
                "list value",
                "X-XSS-Protection: [1]",
                "http_server_config.headers.X-XSS-Protection",
            ),
        ];
        for (name, line, key) in cases {
            let e = err(&format!("http_server_config:\n  headers:\n    {line}\n"));
            assert_eq!(e.key(), key, "{name}: {e}");
        }
    }

    #[test]
    fn http2_must_be_a_boolean() {
        let e = err("http_server_config: {http2: yes}");
        assert_eq!(e.key(), "http_server_config.http2");
    }

    #[test]
    fn rate_limit_is_read() {
        let config = parse("rate_limit: {interval: 100ms, burst: 5}").expect("valid");
        assert_eq!(
            config.rate_limit,
            Some(RateLimit {
                interval: Duration::from_millis(100),
                burst: 5
            })
        );
        for off in [
            "rate_limit: {interval: 0s, burst: 5}",
            "rate_limit: {interval: 0}",
            "rate_limit:",
        ] {
            assert_eq!(parse(off).expect(off).rate_limit, None, "{off}");
        }
    }

    #[test]
    fn bad_rate_limits_are_refused() {
        let cases = [
            ("rate_limit: {interval: 1s}", "rate_limit.burst"),
            ("rate_limit: {interval: 1s, burst: -1}", "rate_limit.burst"),
            ("rate_limit: {interval: 1s, burst: x}", "rate_limit.burst"),
            ("rate_limit: {interval: 5, burst: 1}", "rate_limit.interval"),
            (
                "rate_limit: {interval: 1y, burst: 1}",
                "rate_limit.interval",
            ),
            (
                "rate_limit: {interval: 1s, burst: 1, size: 2}",
                "rate_limit.size",
            ),
        ];
        for (text, key) in cases {
            assert_eq!(err(text).key(), key, "{text}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let cases = [
            ("basic_auth_user: {}", "basic_auth_user"),
            (
                "http_server_config: {header: {}}",
                "http_server_config.header",
            ),
            (
                "http_server_config: {headers: {}, keepalive: true}",
                "http_server_config.keepalive",
            ),
        ];
        for (text, key) in cases {
            let e = err(text);
            assert_eq!(e.key(), key, "{text}");
            assert!(e.to_string().contains("unknown key (known: "), "{e}");
        }
    }

    #[test]
    fn tls_server_config_is_read_and_its_paths_resolved_on_load() {
        let config = parse("tls_server_config:\n  cert_file: a.crt\n  key_file: /k/a.key\n")
            .expect("valid TLS section");
        let tls = config.tls.expect("TLS configured");
        assert_eq!(tls.cert, Pem::File("a.crt".into()));
        let dir =
            std::env::temp_dir().join(format!("pushgate-webconfig-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("web.yml");
        std::fs::write(
            &path,
            "tls_server_config:\n  cert_file: a.crt\n  key_file: /k/a.key\n",
        )
        .expect("write");
        let tls = load(&path)
            .expect("valid file")
            .tls
            .expect("TLS configured");
        assert_eq!(
            tls.files(),
            [dir.join("a.crt").as_path(), Path::new("/k/a.key")]
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn structure_errors_name_the_problem() {
        assert!(err("- a\n- b\n")
            .to_string()
            .contains("expected a mapping, got a list"));
        assert!(err("a: 1\n---\nb: 2\n")
            .to_string()
            .contains("more than one YAML document"));
        assert!(err("basic_auth_users: [a]")
            .to_string()
            .contains("basic_auth_users: expected a mapping"));
        let e = err("basic_auth_users: {a: x}\nbasic_auth_users: {}\n");
        assert!(e.to_string().contains("duplicated key"), "{e}");
        let e = err("a: [\n");
        assert!(
            e.to_string().starts_with("web config: invalid YAML: "),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn load_names_the_file_and_bounds_its_size() {
        let dir = std::env::temp_dir().join(format!("pushgate-webconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("web.yml");
        std::fs::write(&path, "nope: 1\n").expect("write");
        let e = load(&path).expect_err("unknown key");
        assert!(
            e.to_string().starts_with(&format!(
                "web config file {:?}: nope: ",
                path.display().to_string()
            )),
            "{e}"
        );
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).expect("write");
        assert!(load(&path)
            .expect_err("too large")
            .to_string()
            .contains("larger than"));
        let e = load(&dir.join("missing.yml")).expect_err("missing file");
        assert!(e.to_string().contains("missing.yml"), "{e}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn user_debug_hides_the_hash() {
        let user = User {
            name: "alice".into(),
            hash: hash_of("x"),
        };
        assert_eq!(format!("{user:?}"), "User(\"alice\", cost 4)");
    }
}

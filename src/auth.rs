//! Enforcing the web config on each request: rate limit (429), basic auth
//! (401) with read/write credentials, configured response headers, and
//! picking up changes to the file (500 while it is broken).
//!
//! Owns the verdict cache and the token bucket. Parsing and validation are
//! `webconfig`'s; the router decides where to call [`WebAuth::guard`].

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::http::{Method, Request, Response, Status};
use crate::log;
use crate::webconfig::{self, RateLimit, User, WebConfig, WebConfigError};

/// How often the request path looks at the file's metadata. Checking on the
/// request path (instead of a watcher thread) needs no extra thread or
/// inotify, and costs one `stat` per second at most.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Bound on cached verdicts. When full, an arbitrary entry is evicted; a
/// flood of wrong passwords thus costs legitimate clients at most one bcrypt
/// each to get back in.
const CACHE_CAPACITY: usize = 1024;

/// The realm-less challenge, as the exporter-toolkit sends it.
const CHALLENGE: &str = "Basic";

/// Why a request is answered before its handler runs. [`Rejection::status`]
/// is the auth boundary's one status match; the texts are Go's status texts,
/// as upstream's exporter-toolkit sends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The web config file is broken since the last reload.
    BrokenConfig,
    /// Over the configured rate limit.
    RateLimited,
    /// No valid credentials for the access the method needs.
    Unauthorized,
}

impl Rejection {
    pub fn status(self) -> Status {
        match self {
            Rejection::BrokenConfig => Status::INTERNAL_SERVER_ERROR,
            Rejection::RateLimited => Status::TOO_MANY_REQUESTS,
            Rejection::Unauthorized => Status::UNAUTHORIZED,
        }
    }

    /// The answer: the status and its reason phrase, with the Basic
    /// challenge on a 401 (headers of the web config are added by the caller).
    pub fn response(self) -> Response {
        let resp = Response::error(self.status(), &self.to_string());
        match self {
            Rejection::Unauthorized => resp.with_header("WWW-Authenticate", CHALLENGE),
            Rejection::BrokenConfig | Rejection::RateLimited => resp,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status().reason())
    }
}

/// What a request wants to do. Writes change the store or the process;
/// everything else only reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Scrape, UI, static assets, API reads, health, OPTIONS.
    Read,
    /// Push, delete, wipe, bulk delete, quit.
    Write,
}

impl Access {
    /// The access a method needs: GET, HEAD and OPTIONS read; every other
    /// method (PUT, POST, DELETE and unknown ones) writes. Every pushgate
    /// write endpoint uses PUT, POST or DELETE, and no read endpoint does.
    pub fn of(method: &Method) -> Access {
        match method {
            Method::Get | Method::Head | Method::Options => Access::Read,
            _ => Access::Write,
        }
    }
}

/// The web config in force, or nothing to enforce when no file was given.
pub struct WebAuth {
    inner: Option<Inner>,
}

struct Inner {
    path: PathBuf,
    reload_every: Duration,
    state: Mutex<State>,
    cache: Mutex<VerdictCache>,
    /// bcrypt runs one at a time, as in the toolkit: a flood of new
    /// credentials then uses one core, not all of them.
    bcrypt_turn: Mutex<()>,
    bcrypt_calls: AtomicU64,
}

struct State {
    current: Result<Arc<Active>, String>,
    stamp: Option<FileStamp>,
    checked_at: Instant,
}

/// A valid configuration with what enforcing it needs.
struct Active {
    config: WebConfig,
    /// Verified for unknown users so that their answer takes as long as a
    /// known user's: same cost as the most expensive configured hash.
    dummy_hash: String,
    bucket: Option<Arc<TokenBucket>>,
}

/// What identifies a version of a file without reading it (also used by
/// `tls` for certificate files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    dev: u64,
    ino: u64,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl WebAuth {
    /// Nothing to enforce: every request passes, no headers are added.
    pub fn disabled() -> WebAuth {
        WebAuth { inner: None }
    }

    /// From the `--web.config.file` flag value: empty means
    /// [`WebAuth::disabled`], anything else is loaded and validated now.
    pub fn from_flag(value: &str) -> Result<WebAuth, WebConfigError> {
        if value.is_empty() {
            Ok(WebAuth::disabled())
        } else {
            WebAuth::from_file(value)
        }
    }

    /// Loads and validates the file at `path`; an error is fatal at start.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<WebAuth, WebConfigError> {
        WebAuth::with_reload_interval(path.into(), RELOAD_CHECK_INTERVAL)
    }

    fn with_reload_interval(
        path: PathBuf,
        reload_every: Duration,
    ) -> Result<WebAuth, WebConfigError> {
        // Stamp before reading: a change in between is seen at the next check.
        let stamp = FileStamp::of(&path).ok();
        let active = Active::new(webconfig::load(&path)?, None);
        Ok(WebAuth {
            inner: Some(Inner {
                path,
                reload_every,
                state: Mutex::new(State {
                    current: Ok(Arc::new(active)),
                    stamp,
                    checked_at: Instant::now(),
                }),
                cache: Mutex::new(VerdictCache::new()),
                bcrypt_turn: Mutex::new(()),
                bcrypt_calls: AtomicU64::new(0),
            }),
        })
    }

    /// The whole per-request decision in one call: runs `handler` if the
    /// request may proceed, and adds the configured headers to its response
    /// (and to 401 and 429 answers). The access needed follows from the
    /// method ([`Access::of`]).
    pub fn guard(&self, req: &Request, handler: impl FnOnce() -> Response) -> Response {
        let Some(inner) = &self.inner else {
            return handler();
        };
        let active = match inner.current() {
            Ok(active) => active,
            Err(resp) => return resp,
        };
        let mut resp = match inner.decide(&active, req, Access::of(&req.method)) {
            Some(reject) => reject,
            None => handler(),
        };
        add_headers(&mut resp, &active.config.headers);
        resp
    }

    /// `Some(response)` if the request must be answered with it instead of
    /// being handled: 500 while the file is broken, 429 over the rate
    /// limit, 401 without valid credentials for `access`. Rejections already
    /// carry the configured headers.
    pub fn check(&self, req: &Request, access: Access) -> Option<Response> {
        let inner = self.inner.as_ref()?;
        let active = match inner.current() {
            Ok(active) => active,
            Err(resp) => return Some(resp),
        };
        let mut reject = inner.decide(&active, req, access)?;
        add_headers(&mut reject, &active.config.headers);
        Some(reject)
    }

    /// The configured response headers of the current valid file (none while
    /// it is broken or when no file is given).
    pub fn extra_headers(&self) -> Vec<(String, String)> {
        match self.inner.as_ref().map(Inner::current) {
            Some(Ok(active)) => active.config.headers.clone(),
            _ => Vec::new(),
        }
    }

    /// Re-reads the file now, whether or not it looks changed (SIGHUP): an
    /// edit that kept size and modification time is picked up too. As with
    /// a change seen on the request path, a broken file makes every request
    /// 500 until it is fixed. Without a file there is nothing to do.
    pub fn reload(&self) {
        if let Some(inner) = &self.inner {
            let mut state = lock(&inner.state);
            state.checked_at = Instant::now();
            state.stamp = None;
            inner.reload_if_changed(&mut state);
            if let Err(err) = &state.current {
                log::error("Unable to parse configuration", &[("err", err)]);
            }
        }
    }

    /// True if a web config file is in force (even one without users: its
    /// rate limit, headers or a broken reload still apply).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// How many bcrypt verifications ran since start (cache misses).
    pub fn bcrypt_calls(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.bcrypt_calls.load(Ordering::Relaxed))
    }
}

/// Sets each configured header, replacing one the handler set with the same
/// name: the operator's value wins (e.g. over the UI's own CSP).
pub fn add_headers(resp: &mut Response, headers: &[(String, String)]) {
    for (name, value) in headers {
        resp.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        resp.headers.push((name.clone(), value.clone()));
    }
}

impl Inner {
    /// The configuration to enforce, re-read if the file changed since the
    /// last look (at most once per `reload_every`); `Err` is the 500 answer.
    fn current(&self) -> Result<Arc<Active>, Response> {
        let mut state = lock(&self.state);
        if state.checked_at.elapsed() >= self.reload_every {
            state.checked_at = Instant::now();
            self.reload_if_changed(&mut state);
        }
        let current = state.current.clone();
        drop(state);
        current.map_err(|err| {
            log::error("Unable to parse configuration", &[("err", &err)]);
            Rejection::BrokenConfig.response()
        })
    }

    fn reload_if_changed(&self, state: &mut State) {
        let stamp = match FileStamp::of(&self.path) {
            Ok(stamp) => stamp,
            Err(e) => {
                state.stamp = None;
                state.current = Err(format!(
                    "web config file {:?}: {e}",
                    self.path.display().to_string()
                ));
                return;
            }
        };
        if state.stamp == Some(stamp) {
            return;
        }
        state.stamp = Some(stamp);
        let previous_bucket = state.current.as_ref().ok().and_then(|a| a.bucket.clone());
        state.current = match webconfig::load(&self.path) {
            Ok(config) => {
                log::info("web config reloaded", &[("file", &self.path.display())]);
                Ok(Arc::new(Active::new(config, previous_bucket)))
            }
            Err(e) => Err(e.to_string()),
        };
    }

    /// The rejection for `req`, or `None` if it may proceed.
    fn decide(&self, active: &Active, req: &Request, access: Access) -> Option<Response> {
        if let Some(bucket) = &active.bucket {
            if !bucket.allow(Instant::now()) {
                return Some(Rejection::RateLimited.response());
            }
        }
        let candidates = active.candidates(access)?;
        let authorized = req
            .header("Authorization")
            .and_then(basic_credentials)
            .is_some_and(|(user, password)| self.verify(active, &candidates, &user, &password));
        if authorized {
            None
        } else {
            Some(Rejection::Unauthorized.response())
        }
    }

    /// True if and only if `user` is among `candidates` and `password`
    /// matches its hash. Unknown users cost a bcrypt of the dummy hash.
    fn verify(
        &self,
        active: &Active,
        candidates: &[&[User]],
        user: &[u8],
        password: &[u8],
    ) -> bool {
        let mut found: Option<&str> = None;
        // No early exit and constant-time comparison: which name matched,
        // and how much of it, must not show in the timing.
        for candidate in candidates.iter().flat_map(|list| list.iter()) {
            if bool::from(candidate.name.as_bytes().ct_eq(user)) {
                found = Some(&candidate.hash);
            }
        }
        let hash = found.unwrap_or(&active.dummy_hash);
        let matches = self.verify_cached(user, hash, password);
        found.is_some() && matches
    }

    fn verify_cached(&self, user: &[u8], hash: &str, password: &[u8]) -> bool {
        let (key, cached) = {
            let cache = lock(&self.cache);
            let key = cache.key(user, hash, password);
            (key, cache.get(key))
        };
        if let Some(verdict) = cached {
            return verdict;
        }
        let _turn = lock(&self.bcrypt_turn);
        // Another worker may have verified the same credentials while this
        // one waited for its turn.
        if let Some(verdict) = lock(&self.cache).get(key) {
            return verdict;
        }
        self.bcrypt_calls.fetch_add(1, Ordering::Relaxed);
        // A hash that passed `check_bcrypt_hash` always verifies; an error
        // here would be a bcrypt crate change, and denying is the safe answer.
        let verdict = bcrypt::verify(password, hash).unwrap_or(false);
        lock(&self.cache).insert(key, verdict);
        verdict
    }
}

impl Active {
    fn new(config: WebConfig, previous_bucket: Option<Arc<TokenBucket>>) -> Active {
        let all_users = config
            .basic_auth_users
            .iter()
            .chain(config.write_users.iter().flatten());
        let cost = all_users
            .map(|u| webconfig::bcrypt_cost(&u.hash))
            .max()
            .unwrap_or(10);
        // A well-formed hash nothing verifies against in practice; verifying
        // it costs the same as any hash of that cost.
        let dummy_hash = format!("$2b${cost:02}${}", ".".repeat(53));
        // Keep the bucket's tokens across a reload that did not change it.
        let bucket = config.rate_limit.map(|limit| match previous_bucket {
            Some(b) if b.limit == limit => b,
            _ => Arc::new(TokenBucket::new(limit, Instant::now())),
        });
        Active {
            config,
            dummy_hash,
            bucket,
        }
    }

    /// The users who may perform `access`, or `None` if it needs no
    /// credentials. Reads: `basic_auth_users` and the write users; open when
    /// `basic_auth_users` is empty. Writes: `pushgate_write_users` when set,
    /// otherwise `basic_auth_users`; open only when both are absent.
    fn candidates(&self, access: Access) -> Option<Vec<&[User]>> {
        let readers = self.config.basic_auth_users.as_slice();
        let writers = self.config.write_users.as_deref();
        match (access, writers) {
            (Access::Read, _) if readers.is_empty() => None,
            (Access::Read, writers) => Some(vec![readers, writers.unwrap_or(&[])]),
            (Access::Write, Some(writers)) => Some(vec![writers]),
            (Access::Write, None) if readers.is_empty() => None,
            (Access::Write, None) => Some(vec![readers]),
        }
    }
}

/// User and password from `Authorization: Basic <base64(user:password)>`,
/// as Go's `Request.BasicAuth` reads it; `None` for anything else.
fn basic_credentials(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let scheme = header.get(..6)?;
    if !scheme.eq_ignore_ascii_case("Basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&header[6..])
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Verdicts of past bcrypt verifications, keyed by a keyed 128-bit hash of
/// (user, bcrypt hash, password), so no plaintext password stays in memory.
/// The key is random per process: without it nobody can aim for a collision.
struct VerdictCache {
    verdicts: HashMap<u128, bool>,
    keys: (RandomState, RandomState),
}

impl VerdictCache {
    fn new() -> VerdictCache {
        VerdictCache {
            verdicts: HashMap::new(),
            keys: (RandomState::new(), RandomState::new()),
        }
    }

    fn key(&self, user: &[u8], hash: &str, password: &[u8]) -> u128 {
        let half = |state: &RandomState| {
            let mut h = state.build_hasher();
            // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
            for part in [user, hash.as_bytes(), password] {
                h.write_usize(part.len());
                h.write(part);
            }
            h.finish()
        };
        (u128::from(half(&self.keys.0)) << 64) | u128::from(half(&self.keys.1))
    }

    fn get(&self, key: u128) -> Option<bool> {
        self.verdicts.get(&key).copied()
    }

    fn insert(&mut self, key: u128, verdict: bool) {
        if self.verdicts.len() >= CACHE_CAPACITY && !self.verdicts.contains_key(&key) {
            // Iteration order follows the map's random hasher: an arbitrary victim.
            if let Some(victim) = self.verdicts.keys().next().copied() {
                self.verdicts.remove(&victim);
            }
        }
        self.verdicts.insert(key, verdict);
    }
}

/// `rate_limit`: holds up to `burst` tokens, gains one per `interval`, and
/// each request takes one. Starts full, like Go's `rate.Limiter`.
struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        TokenBucket {
            limit,
            state: Mutex::new((f64::from(limit.burst), now)),
        }
    }

    /// Takes a token if one is available at `now`.
    fn allow(&self, now: Instant) -> bool {
        let mut state = lock(&self.state);
        let (tokens, last) = *state;
        let gained =
            now.saturating_duration_since(last).as_secs_f64() / self.limit.interval.as_secs_f64();
        let tokens = (tokens + gained).min(f64::from(self.limit.burst));
        let allowed = tokens >= 1.0;
        *state = (if allowed { tokens - 1.0 } else { tokens }, now.max(last));
        allowed
    }
}

/// Locks `m`, ignoring poisoning: every critical section here leaves its
/// data consistent even if a panic interrupts it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const COST: u32 = 4;

    fn hash_of(password: &str) -> String {
        bcrypt::hash(password, COST).expect("bcrypt at cost 4")
    }

    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    /// A temporary web config file, removed on drop.
    struct TempConfig {
        dir: PathBuf,
        path: PathBuf,
    }

    impl TempConfig {
        fn new(name: &str, text: &str) -> TempConfig {
            let dir =
                std::env::temp_dir().join(format!("pushgate-auth-{}-{name}", std::process::id()));
            fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("web.yml");
            fs::write(&path, text).expect("write config");
            TempConfig { dir, path }
        }

        /// Replaces the file atomically (new inode), as editors and config
        /// management do, so the change is seen whatever the mtime resolution.
        fn replace(&self, text: &str) {
            let tmp = self.dir.join("web.yml.new");
            fs::write(&tmp, text).expect("write config");
            fs::rename(&tmp, &self.path).expect("rename config");
        }

        fn auth(&self) -> WebAuth {
            WebAuth::from_file(&self.path).expect("valid config")
        }

        fn auth_reloading_always(&self) -> WebAuth {
            WebAuth::with_reload_interval(self.path.clone(), Duration::ZERO).expect("valid config")
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn get(auth: Option<&str>) -> Request {
        let req = Request::new(Method::Get, "/metrics");
        match auth {
            Some(value) => req.with_header("Authorization", value),
            None => req,
        }
    }

    fn put(auth: Option<&str>) -> Request {
        let req = Request::new(Method::Put, "/metrics/job/j");
        match auth {
            Some(value) => req.with_header("Authorization", value),
            None => req,
        }
    }

    fn status(auth: &WebAuth, req: &Request) -> u16 {
        auth.guard(req, || Response::empty(200)).status
    }

    fn users_config(name: &str) -> TempConfig {
        TempConfig::new(
            name,
            &format!(
                "basic_auth_users:\n  alice: {}\n  bob: {}\n",
                hash_of("a-pass"),
                hash_of("b-pass")
            ),
        )
    }

    #[test]
    fn no_file_lets_everything_through_unchanged() {
        let auth = WebAuth::from_flag("").expect("empty flag");
        let resp = auth.guard(&put(None), || Response::empty(202));
        assert_eq!(resp, Response::empty(202));
        assert!(auth.check(&get(None), Access::Read).is_none());
        assert!(auth.extra_headers().is_empty());
    }

    #[test]
    fn missing_file_is_an_error_at_start() {
        let e = WebAuth::from_flag("/nonexistent/pushgate-web.yml")
            .err()
            .expect("missing file");
        assert!(
            e.to_string().contains("/nonexistent/pushgate-web.yml"),
            "{e}"
        );
    }

    #[test]
    fn decisions_table() {
        let file = users_config("table");
        let auth = file.auth();
        let b64 = |raw: &[u8]| base64::engine::general_purpose::STANDARD.encode(raw);
        let cases: Vec<(&str, Option<String>, u16)> = vec![
            ("correct password", Some(basic("alice", "a-pass")), 200),
            ("second user", Some(basic("bob", "b-pass")), 200),
            ("wrong password", Some(basic("alice", "b-pass")), 401),
            ("unknown user", Some(basic("carol", "a-pass")), 401),
            ("empty user", Some(basic("", "a-pass")), 401),
            ("missing header", None, 401),
            (
                "lower-case scheme",
                Some(basic("alice", "a-pass").replacen("Basic", "basic", 1)),
                200,
            ),
            ("bearer scheme", Some("Bearer abc".into()), 401),
            ("scheme only", Some("Basic".into()), 401),
            ("empty token", Some("Basic ".into()), 401),
            ("bad base64", Some("Basic !!!".into()), 401),
            ("no colon", Some(format!("Basic {}", b64(b"alice"))), 401),
            (
                "non-UTF-8 credentials",
                Some(format!("Basic {}", b64(b"\xff:\xfe"))),
                401,
            ),
            ("multi-byte scheme", Some("Basïc xyz".into()), 401),
            ("cut inside a character", Some("Basicé xyz".into()), 401),
        ];
        for (name, header, expected) in cases {
            assert_eq!(status(&auth, &get(header.as_deref())), expected, "{name}");
        }
    }

    #[test]
    fn rejection_is_401_with_challenge() {
        let file = users_config("challenge");
        let resp = file
            .auth()
            .guard(&get(None), || panic!("handler must not run"));
        assert_eq!(resp.status, 401);
        assert_eq!(resp.body.to_vec(), b"Unauthorized\n");
        assert_eq!(resp.header("WWW-Authenticate"), Some("Basic"));
    }

    #[test]
    fn correct_password_costs_one_bcrypt() {
        let file = users_config("cache-hit");
        let auth = file.auth();
        let header = basic("alice", "a-pass");
        for _ in 0..3 {
            assert_eq!(status(&auth, &get(Some(&header))), 200);
        }
        assert_eq!(auth.bcrypt_calls(), 1);
        assert_eq!(status(&auth, &get(Some(&basic("bob", "b-pass")))), 200);
        assert_eq!(auth.bcrypt_calls(), 2);
    }

    #[test]
    fn wrong_passwords_and_unknown_users_are_cached_too() {
        let file = users_config("cache-miss");
        let auth = file.auth();
        for _ in 0..2 {
            assert_eq!(status(&auth, &get(Some(&basic("alice", "nope")))), 401);
            assert_eq!(status(&auth, &get(Some(&basic("mallory", "nope")))), 401);
        }
        assert_eq!(auth.bcrypt_calls(), 2);
    }

    #[test]
    fn unknown_users_cost_a_bcrypt_of_the_same_cost() {
        let file = users_config("dummy");
        let auth = file.auth();
        assert_eq!(status(&auth, &get(Some(&basic("mallory", "x")))), 401);
        assert_eq!(auth.bcrypt_calls(), 1);
        let active = auth
            .inner
            .as_ref()
            .expect("enabled")
            .current()
            .expect("valid");
        assert_eq!(webconfig::bcrypt_cost(&active.dummy_hash), COST);
        assert!(webconfig::check_bcrypt_hash(&active.dummy_hash).is_ok());
    }

    #[test]
    fn cache_stays_bounded() {
        let mut cache = VerdictCache::new();
        for i in 0..CACHE_CAPACITY + 10 {
            let key = cache.key(b"u", "h", i.to_string().as_bytes());
            cache.insert(key, false);
        }
        assert_eq!(cache.verdicts.len(), CACHE_CAPACITY);
    }

    #[test]
    fn cache_keys_separate_fields() {
        let cache = VerdictCache::new();
        assert_ne!(cache.key(b"ab", "h", b"c"), cache.key(b"a", "h", b"bc"));
        assert_ne!(cache.key(b"u", "h1", b"p"), cache.key(b"u", "h2", b"p"));
        assert_eq!(cache.key(b"u", "h", b"p"), cache.key(b"u", "h", b"p"));
    }

    #[test]
    fn access_follows_the_method() {
        let table = [
            (Method::Get, Access::Read),
            (Method::Head, Access::Read),
            (Method::Options, Access::Read),
            (Method::Put, Access::Write),
            (Method::Post, Access::Write),
            (Method::Delete, Access::Write),
            (Method::Other("PATCH".into()), Access::Write),
        ];
        for (method, access) in table {
            assert_eq!(Access::of(&method), access, "{method:?}");
        }
    }

    fn split_config(name: &str) -> TempConfig {
        TempConfig::new(
            name,
            &format!(
                "basic_auth_users: {{reader: '{}'}}\npushgate_write_users: {{writer: '{}'}}\n",
                hash_of("r-pass"),
                hash_of("w-pass")
            ),
        )
    }

    #[test]
    fn write_users_write_and_read_while_readers_only_read() {
        let file = split_config("split");
        let auth = file.auth();
        let reader = basic("reader", "r-pass");
        let writer = basic("writer", "w-pass");
        let cases = [
            ("reader scrapes", get(Some(&reader)), 200),
            ("reader pushes", put(Some(&reader)), 401),
            ("writer pushes", put(Some(&writer)), 200),
            ("writer scrapes", get(Some(&writer)), 200),
            ("anonymous scrape", get(None), 401),
            ("anonymous push", put(None), 401),
            (
                "writer with reader password",
                put(Some(&basic("writer", "r-pass"))),
                401,
            ),
        ];
        for (name, req, expected) in cases {
            assert_eq!(status(&auth, &req), expected, "{name}");
        }
    }

    #[test]
    fn write_users_alone_leave_reads_open() {
        let file = TempConfig::new(
            "writers-only",
            &format!("pushgate_write_users: {{w: '{}'}}\n", hash_of("p")),
        );
        let auth = file.auth();
        assert_eq!(status(&auth, &get(None)), 200);
        assert_eq!(status(&auth, &put(None)), 401);
        assert_eq!(status(&auth, &put(Some(&basic("w", "p")))), 200);
    }

    #[test]
    fn check_takes_the_access_from_the_caller() {
        let file = split_config("check");
        let auth = file.auth();
        let reader = basic("reader", "r-pass");
        assert!(auth.check(&get(Some(&reader)), Access::Read).is_none());
        let reject = auth
            .check(&get(Some(&reader)), Access::Write)
            .expect("reader cannot write");
        assert_eq!(reject.status, 401);
    }

    #[test]
    fn headers_are_added_to_every_answer_and_win() {
        let file = TempConfig::new(
            "headers",
            &format!(
                "basic_auth_users: {{u: '{}'}}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: default-src 'none'\n",
                hash_of("p")
            ),
        );
        let auth = file.auth();
        let ok = auth.guard(&get(Some(&basic("u", "p"))), || {
            Response::empty(200).with_header("content-security-policy", "from the handler")
        });
        assert_eq!(ok.header("X-Frame-Options"), Some("deny"));
        assert_eq!(
            ok.header("Content-Security-Policy"),
            Some("default-src 'none'")
        );
        assert_eq!(ok.headers.len(), 2, "{:?}", ok.headers);
        let denied = auth.guard(&get(None), || Response::empty(200));
        assert_eq!(denied.status, 401);
        assert_eq!(denied.header("X-Frame-Options"), Some("deny"));
        assert_eq!(auth.extra_headers().len(), 2);
    }

    #[test]
    fn token_bucket_allows_burst_then_one_per_interval() {
        let start = Instant::now();
        let limit = RateLimit {
            interval: Duration::from_millis(100),
            burst: 2,
        };
        let bucket = TokenBucket::new(limit, start);
        assert!(bucket.allow(start));
        assert!(bucket.allow(start));
        assert!(!bucket.allow(start));
        assert!(!bucket.allow(start + Duration::from_millis(50)));
        assert!(bucket.allow(start + Duration::from_millis(100)));
        assert!(!bucket.allow(start + Duration::from_millis(100)));
        // A long pause refills only up to the burst.
        let later = start + Duration::from_secs(10);
        assert!(bucket.allow(later) && bucket.allow(later));
        assert!(!bucket.allow(later));
    }

    #[test]
    fn rate_limit_answers_429_before_auth() {
        let file = TempConfig::new(
            "rate",
            &format!(
                "basic_auth_users: {{u: '{}'}}\nrate_limit: {{interval: 1h, burst: 1}}\n",
                hash_of("p")
            ),
        );
        let auth = file.auth();
        assert_eq!(status(&auth, &get(Some(&basic("u", "p")))), 200);
        let resp = auth.guard(&get(Some(&basic("u", "p"))), || Response::empty(200));
        assert_eq!(resp.status, 429);
        assert_eq!(resp.body.to_vec(), b"Too Many Requests\n");
        assert_eq!(
            auth.bcrypt_calls(),
            1,
            "a limited request must not cost a bcrypt"
        );
    }

    #[test]
    fn changed_file_is_picked_up() {
        let file = users_config("reload");
        let auth = file.auth_reloading_always();
        assert_eq!(status(&auth, &get(Some(&basic("alice", "a-pass")))), 200);
        file.replace(&format!(
            "basic_auth_users:\n  alice: {}\n",
            hash_of("new-pass")
        ));
        assert_eq!(status(&auth, &get(Some(&basic("alice", "a-pass")))), 401);
        assert_eq!(status(&auth, &get(Some(&basic("alice", "new-pass")))), 200);
        file.replace("");
        assert_eq!(
            status(&auth, &get(None)),
            200,
            "an empty file turns auth off"
        );
    }

    #[test]
    fn reload_waits_for_the_check_interval() {
        let file = users_config("no-reload");
        let auth = file.auth();
        file.replace("");
        // Within the first second the old file is still in force.
        assert_eq!(status(&auth, &get(None)), 401);
    }

    #[test]
    fn reload_reads_the_file_at_once() {
        let file = users_config("forced");
        let auth = file.auth();
        file.replace("");
        auth.reload();
        assert_eq!(status(&auth, &get(None)), 200, "no wait for the interval");
        file.replace("basic_auth_users: {alice: not-a-hash}\n");
        auth.reload();
        assert_eq!(status(&auth, &get(None)), 500, "broken after a reload");
        WebAuth::disabled().reload();
    }

    #[test]
    fn invalid_file_at_runtime_gives_500_until_fixed() {
        let file = users_config("invalid");
        let auth = file.auth_reloading_always();
        file.replace("basic_auth_users: {alice: not-a-hash}\n");
        for req in [get(Some(&basic("alice", "a-pass"))), put(None)] {
            let resp = auth.guard(&req, || panic!("handler must not run"));
            assert_eq!(resp.status, 500);
            assert_eq!(resp.body.to_vec(), b"Internal Server Error\n");
        }
        assert!(auth.extra_headers().is_empty());
        fs::remove_file(&file.path).expect("remove config");
        assert_eq!(
            status(&auth, &get(None)),
            500,
            "a missing file is broken too"
        );
        file.replace(&format!(
            "basic_auth_users:\n  alice: {}\n",
            hash_of("a-pass")
        ));
        assert_eq!(status(&auth, &get(Some(&basic("alice", "a-pass")))), 200);
    }

    #[test]
    fn unchanged_rate_limit_keeps_its_bucket_across_reloads() {
        let file = TempConfig::new("rate-reload", "rate_limit: {interval: 1h, burst: 1}\n");
        let auth = file.auth_reloading_always();
        assert_eq!(status(&auth, &get(None)), 200);
        file.replace("rate_limit: {interval: 1h, burst: 1}\n# touched\n");
        assert_eq!(status(&auth, &get(None)), 429, "bucket kept");
        file.replace("rate_limit: {interval: 1h, burst: 2}\n");
        assert_eq!(status(&auth, &get(None)), 200, "new limit, new bucket");
    }
}

//! Command-line flags → a validated [`Config`].
//!
//! Flag names and defaults are upstream's (kingpin style: `--name=value`,
//! `--name value`, `--flag`/`--no-flag` for booleans); pushgate-only flags are
//! marked in the help text. Parsing uses pico-args. This module also derives
//! the effective route prefix and telemetry route from the flags; it does not
//! bind sockets, read the web config file or resolve host names.

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::gofmt;
use crate::log;
use crate::telemetry;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    /// `-h`/`--help`: print this text to stdout, exit 0.
    Help(String),
    /// `--version`: print this text to stdout, exit 0.
    Version(String),
}

/// A listen address: `host:port`, `:port` (all interfaces) or `[v6]:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddress {
    /// `:port` — every interface, IPv6 and IPv4.
    AnyHost(u16),
    /// A literal IP address and port; no DNS look-ups in a static binary.
    Socket(std::net::SocketAddr),
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The flag values as given (for `/api/v1/status`).
    pub listen_addresses_raw: Vec<String>,
    pub listen_addresses: Vec<ListenAddress>,
    pub systemd_socket: bool,
    pub web_config_file: String,
    /// `--web.local-assets` (Debian's upstream package): accepted, unused;
    /// pushgate's web assets are built in.
    pub local_assets: String,
    pub telemetry_path: String,
    pub external_url: String,
    pub route_prefix_flag: String,
    pub enable_lifecycle: bool,
    pub enable_admin_api: bool,
    pub persistence_file: String,
    pub persistence_interval: Duration,
    pub disable_consistency_check: bool,
    pub enable_utf8_names: bool,
    pub log_level: log::Level,
    pub log_format: log::Format,
    pub group_ttl: Duration,
    /// 0 = unlimited.
    pub max_body_bytes: u64,
    /// Most series the store may hold, push-time gauges included; 0 = unlimited.
    pub max_series: usize,
    /// Most groups the store may hold; 0 = unlimited.
    pub max_groups: usize,
    /// Keep-alive connections without a request for longer are closed;
    /// zero = never.
    pub idle_timeout: Duration,
    /// A request head (or TLS handshake) must arrive within this.
    pub read_header_timeout: Duration,
    /// A request body must arrive within this after its head.
    pub read_timeout: Duration,
    /// A response must be taken by the client within this.
    pub write_timeout: Duration,
    /// Open client connections at most.
    pub max_connections: usize,
    /// In-flight requests may finish within this at shutdown.
    pub shutdown_timeout: Duration,
    /// Bounds on one push (0 = unlimited for each).
    pub push_limits: PushLimits,
    pub health_includes_scrape: bool,
}

impl Default for Config {
    /// Upstream's defaults.
    fn default() -> Config {
        Config {
            listen_addresses_raw: vec![":9091".to_string()],
            listen_addresses: vec![ListenAddress::AnyHost(9091)],
            systemd_socket: false,
            web_config_file: String::new(),
            local_assets: String::new(),
            telemetry_path: "/metrics".to_string(),
            external_url: String::new(),
            route_prefix_flag: String::new(),
            enable_lifecycle: false,
            enable_admin_api: false,
            persistence_file: String::new(),
            persistence_interval: Duration::from_secs(300),
            disable_consistency_check: false,
            enable_utf8_names: false,
            log_level: log::Level::Info,
            log_format: log::Format::Logfmt,
            group_ttl: Duration::ZERO,
            max_body_bytes: 64 << 20,
            max_series: 0,
            max_groups: 0,
            push_limits: PushLimits::default(),
            idle_timeout: Duration::from_secs(120),
            read_header_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(300),
            max_connections: 4096,
            shutdown_timeout: Duration::from_secs(5),
            health_includes_scrape: false,
        }
    }
}

/// Bounds on a single push, applied after decoding and before the store is
/// touched. The defaults are far above what real pushes carry (node_exporter
/// sends ~1,000 families and ~30 labels at most) and keep one request from
/// costing the process unbounded memory or time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushLimits {
    pub families: usize,
    pub series: usize,
    pub labels_per_series: usize,
    pub label_name_bytes: usize,
    pub label_value_bytes: usize,
    pub metric_name_bytes: usize,
}

impl Default for PushLimits {
    fn default() -> PushLimits {
        PushLimits {
            families: 100_000,
            series: 1_000_000,
            labels_per_series: 128,
            label_name_bytes: 1024,
            label_value_bytes: 64 * 1024,
            metric_name_bytes: 1024,
        }
    }
}

/// A command line that cannot be used; the process prints it and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses the arguments after the program name.
    pub fn from_args(args: Vec<OsString>) -> Result<Command, ConfigError> {
        let mut flags = FlagReader(pico_args::Arguments::from_vec(normalize(args)?));
        // kingpin's --help-long is --help; --help-man prints a man page.
        if flags.0.contains(["-h", "--help"]) || flags.0.contains("--help-long") {
            return Ok(Command::Help(help_text()));
        }
        if flags.0.contains("--help-man") {
            return Ok(Command::Help(man_text()));
        }
        if flags.0.contains("--version") {
            return Ok(Command::Version(version_text()));
        }
        let config = Config::from_flags(&mut flags)?;
        reject_leftovers(flags.0.finish())?;
        Ok(Command::Run(Box::new(config)))
    }

    /// The effective route prefix `P`: `--web.route-prefix` if non-empty,
    /// else the path of `--web.external-url`; `/` becomes empty, a leading `/`
    /// is added, one trailing `/` removed.
    pub fn route_prefix(&self) -> String {
        if self.route_prefix_flag.is_empty() {
            self.external_path_prefix()
        } else {
            normalize_prefix(&self.route_prefix_flag)
        }
    }

    /// The prefix the UI uses for links and assets: the path of
    /// `--web.external-url`, normalised like [`Config::route_prefix`].
    pub fn external_path_prefix(&self) -> String {
        normalize_prefix(url_path(&self.external_url))
    }

    /// The telemetry path relative to the route prefix, with a leading `/`.
    pub fn telemetry_path(&self) -> String {
        // Upstream panics at start on a path without `/`; adding it is kinder.
        if self.telemetry_path.starts_with('/') {
            self.telemetry_path.clone()
        } else {
            format!("/{}", self.telemetry_path)
        }
    }

    /// Every flag except help/version with its value as upstream prints it in
    /// `/api/v1/status` (Go-style booleans and durations), sorted by name.
    pub fn flag_values(&self) -> Vec<(&'static str, String)> {
        let text = |s: &str| s.to_string();
        let mut values = vec![
            ("web.listen-address", self.listen_addresses_raw.join(",")),
            ("web.systemd-socket", self.systemd_socket.to_string()),
            ("web.config.file", text(&self.web_config_file)),
            ("web.local-assets", text(&self.local_assets)),
            ("web.telemetry-path", text(&self.telemetry_path)),
            ("web.external-url", text(&self.external_url)),
            ("web.route-prefix", text(&self.route_prefix_flag)),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            ("persistence.file", text(&self.persistence_file)),
            (
                "persistence.interval",
                gofmt::format_duration(self.persistence_interval),
            ),
            (
                "push.disable-consistency-check",
                self.disable_consistency_check.to_string(),
            ),
            ("push.enable-utf8-names", self.enable_utf8_names.to_string()),
            ("log.level", text(self.log_level.as_str())),
            ("log.format", text(self.log_format.as_str())),
            ("push.group-ttl", gofmt::format_duration(self.group_ttl)),
            ("push.max-body-bytes", self.max_body_bytes.to_string()),
            ("push.max-groups", self.max_groups.to_string()),
            (
                "web.idle-timeout",
                gofmt::format_duration(self.idle_timeout),
            ),
            (
                "web.read-header-timeout",
                gofmt::format_duration(self.read_header_timeout),
            ),
            (
                "web.read-timeout",
                gofmt::format_duration(self.read_timeout),
            ),
            (
                "web.write-timeout",
                gofmt::format_duration(self.write_timeout),
            ),
            ("web.max-connections", self.max_connections.to_string()),
            (
                "web.shutdown-timeout",
                gofmt::format_duration(self.shutdown_timeout),
            ),
            (
                "push.max-metric-name-length",
                self.push_limits.metric_name_bytes.to_string(),
            ),
            (
                "push.max-families-per-push",
                self.push_limits.families.to_string(),
            ),
            (
                "push.max-label-name-length",
                self.push_limits.label_name_bytes.to_string(),
            ),
            (
                "push.max-label-value-length",
                self.push_limits.label_value_bytes.to_string(),
            ),
            (
                "push.max-labels-per-series",
                self.push_limits.labels_per_series.to_string(),
            ),
            (
                "push.max-series-per-push",
                self.push_limits.series.to_string(),
            ),
            ("push.max-series", self.max_series.to_string()),
            (
                "web.health-includes-scrape",
                self.health_includes_scrape.to_string(),
            ),
        ];
        values.sort_by(|a, b| a.0.cmp(b.0));
        values
    }

    /// Takes every known flag out of `flags`, starting from the defaults.
    fn from_flags(flags: &mut FlagReader) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let listen = flags.all("--web.listen-address")?;
        if !listen.is_empty() {
            // Given addresses replace the default instead of adding to it.
            c.listen_addresses = listen
                .iter()
                .map(|a| parsed("--web.listen-address", a, parse_listen_address))
                .collect::<Result<_, _>>()?;
            c.listen_addresses_raw = listen;
        }
        flags.set_bool("--web.systemd-socket", &mut c.systemd_socket)?;
        flags.set_string("--web.config.file", &mut c.web_config_file)?;
        flags.set_string("--web.local-assets", &mut c.local_assets)?;
        flags.set_string("--web.telemetry-path", &mut c.telemetry_path)?;
        if c.telemetry_path.is_empty() {
            let reason = "the scrape path must not be empty";
            return Err(invalid_value("--web.telemetry-path", "", reason));
        }
        flags.set_string("--web.external-url", &mut c.external_url)?;
        flags.set_string("--web.route-prefix", &mut c.route_prefix_flag)?;
        flags.set_bool("--web.enable-lifecycle", &mut c.enable_lifecycle)?;
        flags.set_bool("--web.enable-admin-api", &mut c.enable_admin_api)?;
        flags.set_string("--persistence.file", &mut c.persistence_file)?;
        let interval = &mut c.persistence_interval;
        flags.set_parsed("--persistence.interval", parse_duration, interval)?;
        let unchecked = &mut c.disable_consistency_check;
        flags.set_bool("--push.disable-consistency-check", unchecked)?;
        flags.set_bool("--push.enable-utf8-names", &mut c.enable_utf8_names)?;
        flags.set_parsed("--log.level", parse_log_level, &mut c.log_level)?;
        flags.set_parsed("--log.format", parse_log_format, &mut c.log_format)?;
        flags.set_parsed("--push.group-ttl", parse_duration, &mut c.group_ttl)?;
        let max_body = &mut c.max_body_bytes;
        flags.set_parsed("--push.max-body-bytes", parse_byte_size, max_body)?;
        flags.set_parsed("--push.max-series", parse_count, &mut c.max_series)?;
        flags.set_parsed("--push.max-groups", parse_count, &mut c.max_groups)?;
        flags.set_parsed("--web.idle-timeout", parse_duration, &mut c.idle_timeout)?;
        let t = &mut c.read_header_timeout;
        flags.set_parsed("--web.read-header-timeout", parse_positive_duration, t)?;
        let t = &mut c.read_timeout;
        flags.set_parsed("--web.read-timeout", parse_positive_duration, t)?;
        let t = &mut c.write_timeout;
        flags.set_parsed("--web.write-timeout", parse_positive_duration, t)?;
        let n = &mut c.max_connections;
        flags.set_parsed("--web.max-connections", parse_positive_count, n)?;
        let t = &mut c.shutdown_timeout;
        flags.set_parsed("--web.shutdown-timeout", parse_duration, t)?;
        let l = &mut c.push_limits;
        flags.set_parsed("--push.max-families-per-push", parse_count, &mut l.families)?;
        flags.set_parsed("--push.max-series-per-push", parse_count, &mut l.series)?;
        flags.set_parsed(
            "--push.max-labels-per-series",
            parse_count,
            &mut l.labels_per_series,
        )?;
        flags.set_parsed(
            "--push.max-label-name-length",
            parse_count,
            &mut l.label_name_bytes,
        )?;
        flags.set_parsed(
            "--push.max-label-value-length",
            parse_count,
            &mut l.label_value_bytes,
        )?;
        flags.set_parsed(
            "--push.max-metric-name-length",
            parse_count,
            &mut l.metric_name_bytes,
        )?;
        let health = &mut c.health_includes_scrape;
        flags.set_bool("--web.health-includes-scrape", health)?;
        Ok(c)
    }
}

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `--x`, `--no-x`, `--x=true|false`.
    Bool,
    /// `--x=v` or `--x v`, at most once.
    Value,
    /// Like `Value`, but may be given several times.
    Repeatable,
}

/// One row of the flag table that drives tokenising and the help text.
struct FlagSpec {
    flag: &'static str,
    kind: Kind,
    pushgate_only: bool,
    help: &'static str,
}

impl FlagSpec {
    fn name(&self) -> &'static str {
        &self.flag[2..]
    }
}

const fn spec(flag: &'static str, kind: Kind, help: &'static str) -> FlagSpec {
    FlagSpec {
        flag,
        kind,
        pushgate_only: false,
        help,
    }
}

const fn own(flag: &'static str, kind: Kind, help: &'static str) -> FlagSpec {
    FlagSpec {
        flag,
        kind,
        pushgate_only: true,
        help,
    }
}

/// Every flag in help-text order; `flag_values` names the same set.
const FLAGS: &[FlagSpec] = &[
    spec(
        "--web.listen-address",
        Kind::Repeatable,
        "Address to listen on (host:port, :port, [v6]:port); repeatable.",
    ),
    spec(
        "--web.systemd-socket",
        Kind::Bool,
        "Use sockets passed by systemd (LISTEN_FDS) instead (Linux).",
    ),
    spec(
        "--web.config.file",
        Kind::Value,
        "Web configuration file enabling TLS, basic auth, headers, rate limits.",
    ),
    spec(
        "--web.local-assets",
        Kind::Value,
        "Accepted for Debian's upstream package and ignored: the web assets are built in.",
    ),
    spec(
        "--web.telemetry-path",
        Kind::Value,
        "Path under which to expose metrics.",
    ),
    spec(
        "--web.external-url",
        Kind::Value,
        "URL under which pushgate is reachable from outside.",
    ),
    spec(
        "--web.route-prefix",
        Kind::Value,
        "Prefix of all routes; defaults to the path of --web.external-url.",
    ),
    spec(
        "--web.enable-lifecycle",
        Kind::Bool,
        "Enable shutdown via PUT/POST /-/quit.",
    ),
    spec(
        "--web.enable-admin-api",
        Kind::Bool,
        "Enable PUT /api/v1/admin/wipe, which deletes every group.",
    ),
    spec(
        "--persistence.file",
        Kind::Value,
        "File to persist metrics to; empty keeps them in memory only.",
    ),
    spec(
        "--persistence.interval",
        Kind::Value,
        "Minimum time between writes of the persistence file.",
    ),
    spec(
        "--push.disable-consistency-check",
        Kind::Bool,
        "Do not check pushed metrics for consistency (answers 202). DANGEROUS.",
    ),
    spec(
        "--push.enable-utf8-names",
        Kind::Bool,
        "Accept UTF-8 metric and label names.",
    ),
    spec(
        "--log.level",
        Kind::Value,
        "Minimum log level: debug, info, warn or error.",
    ),
    spec(
        "--log.format",
        Kind::Value,
        "Log line format: logfmt or json.",
    ),
    own(
        "--push.group-ttl",
        Kind::Value,
        "Delete groups not pushed to for this long; 0s keeps them forever.",
    ),
    own(
        "--push.max-body-bytes",
        Kind::Value,
        "Largest push body, raw and decompressed (KiB/MiB/GiB suffixes); 0 = no limit.",
    ),
    own(
        "--push.max-series",
        Kind::Value,
        "Most series stored (push-time gauges included); pushes beyond get 429. 0 = no limit.",
    ),
    own(
        "--web.idle-timeout",
        Kind::Value,
        "Close keep-alive connections without a request for this long; 0s = never.",
    ),
    own(
        "--web.read-header-timeout",
        Kind::Value,
        "Close connections whose request head (or TLS handshake) takes longer.",
    ),
    own(
        "--web.read-timeout",
        Kind::Value,
        "Close connections whose request body takes longer after its head.",
    ),
    own(
        "--web.write-timeout",
        Kind::Value,
        "Close connections that take longer to read a response.",
    ),
    own(
        "--web.max-connections",
        Kind::Value,
        "Most open client connections; beyond, the oldest without a request is closed, else 503.",
    ),
    own(
        "--web.shutdown-timeout",
        Kind::Value,
        "On SIGTERM, SIGINT or /-/quit, let in-flight requests finish for this long.",
    ),
    own(
        "--push.max-families-per-push",
        Kind::Value,
        "Most metric families in one push; more get 413. 0 = no limit.",
    ),
    own(
        "--push.max-series-per-push",
        Kind::Value,
        "Most series in one push; more get 413. 0 = no limit.",
    ),
    own(
        "--push.max-labels-per-series",
        Kind::Value,
        "Most labels on one pushed series; more get 400. 0 = no limit.",
    ),
    own(
        "--push.max-label-name-length",
        Kind::Value,
        "Longest label name in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-label-value-length",
        Kind::Value,
        "Longest label value in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-metric-name-length",
        Kind::Value,
        "Longest metric name in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-groups",
        Kind::Value,
        "Most groups stored; pushes creating more get 429. 0 = no limit.",
    ),
    own(
        "--web.health-includes-scrape",
        Kind::Bool,
        "Make /-/healthy and /-/ready fail while a scrape would fail.",
    ),
];

fn find_flag(flag: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|spec| spec.flag == flag)
}

/// Rewrites kingpin syntax into plain `--flag value` pairs for pico-args.
///
/// pico-args alone rejects `--x=` (an empty value, which upstream's own docs
/// use as `--persistence.file=`), strips quotes inside `--x="v"`, reorders
/// repeated flags given in mixed syntaxes and knows no `--no-x`. So every
/// known flag leaves here as exactly two tokens, booleans with an explicit
/// `true`/`false`; unknown flags and positional arguments pass through for
/// [`reject_leftovers`].
fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::with_capacity(args.len() * 2);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = into_utf8(arg)?;
        if arg == "--" {
            // Kingpin ends flags here; anything after would be a positional.
            return match args.next() {
                Some(next) => Err(unexpected(&next.to_string_lossy())),
                None => Ok(out),
            };
        }
        let (name, inline) = split_inline_value(&arg);
        if let Some(spec) = find_flag(name) {
            let value = match spec.kind {
                Kind::Bool => bool_value(spec, inline)?.to_string(),
                Kind::Value | Kind::Repeatable => flag_value(spec, inline, &mut args)?,
            };
            out.push(OsString::from(spec.flag));
            out.push(OsString::from(value));
        } else if let Some(spec) = negated_bool(name) {
            if let Some(value) = inline {
                return Err(unexpected(value));
            }
            out.push(OsString::from(spec.flag));
            out.push(OsString::from("false"));
        } else {
            out.push(OsString::from(arg));
        }
    }
    Ok(out)
}

fn into_utf8(arg: OsString) -> Result<String, ConfigError> {
    arg.into_string().map_err(|arg| {
        ConfigError::new(format!("argument {:?} is not valid UTF-8, try --help", arg))
    })
}

/// `--name=value` → (`--name`, Some(`value`)); anything else is left whole.
fn split_inline_value(arg: &str) -> (&str, Option<&str>) {
    if arg.starts_with("--") {
        if let Some((name, value)) = arg.split_once('=') {
            return (name, Some(value));
        }
    }
    (arg, None)
}

fn negated_bool(name: &str) -> Option<&'static FlagSpec> {
    let flag = format!("--{}", name.strip_prefix("--no-")?);
    find_flag(&flag).filter(|spec| spec.kind == Kind::Bool)
}

fn bool_value(spec: &FlagSpec, inline: Option<&str>) -> Result<&'static str, ConfigError> {
    match inline {
        None | Some("true") => Ok("true"),
        Some("false") => Ok("false"),
        Some(other) => Err(invalid_value(spec.flag, other, "expected true or false")),
    }
}

/// The value of a flag that needs one: inline, or else the next argument.
fn flag_value(
    spec: &FlagSpec,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = OsString>,
) -> Result<String, ConfigError> {
    let value = match inline {
        Some(value) => value.to_string(),
        None => match rest.next() {
            Some(next) => into_utf8(next)?,
            None => return Err(missing_value(spec.flag)),
        },
    };
    // A value starting with `--` would be mistaken for a flag by pico-args;
    // kingpin also refuses a separate value that looks like a flag.
    let looks_like_flag = if inline.is_some() {
        value.starts_with("--")
    } else {
        value.starts_with('-') && value.len() > 1
    };
    if looks_like_flag {
        return Err(missing_value(spec.flag));
    }
    Ok(value)
}

/// Whatever pico-args did not consume is an unknown flag or a positional.
fn reject_leftovers(leftovers: Vec<OsString>) -> Result<(), ConfigError> {
    let Some(first) = leftovers.first() else {
        return Ok(());
    };
    let first = first.to_string_lossy();
    let (name, _) = split_inline_value(&first);
    let message = if name.starts_with("--") {
        format!("unknown long flag '{}', try --help", name)
    } else if name.starts_with('-') && name.len() > 1 {
        format!("unknown short flag '{}', try --help", name)
    } else {
        return Err(unexpected(name));
    };
    Err(ConfigError::new(message))
}

/// pico-args over [`normalize`]d arguments, with kingpin's rule that a
/// non-repeatable flag may appear only once.
struct FlagReader(pico_args::Arguments);

impl FlagReader {
    /// The single value of `flag`, if given.
    fn one(&mut self, flag: &'static str) -> Result<Option<String>, ConfigError> {
        let first = self.next_value(flag)?;
        if first.is_some() && self.next_value(flag)?.is_some() {
            return Err(ConfigError::new(format!(
                "flag '{}' cannot be repeated, try --help",
                flag
            )));
        }
        Ok(first)
    }

    /// Every value of a repeatable `flag`, in command-line order.
    fn all(&mut self, flag: &'static str) -> Result<Vec<String>, ConfigError> {
        let mut values = Vec::new();
        while let Some(value) = self.next_value(flag)? {
            values.push(value);
        }
        Ok(values)
    }

    fn next_value(&mut self, flag: &'static str) -> Result<Option<String>, ConfigError> {
        // `normalize` leaves only UTF-8 and complete pairs, so this cannot
        // fail in practice; map it anyway rather than trust that.
        self.0
            .opt_value_from_str::<_, String>(flag)
            .map_err(|err| ConfigError::new(format!("flag '{}': {}, try --help", flag, err)))
    }

    fn set_string(&mut self, flag: &'static str, target: &mut String) -> Result<(), ConfigError> {
        if let Some(value) = self.one(flag)? {
            *target = value;
        }
        Ok(())
    }

    fn set_bool(&mut self, flag: &'static str, target: &mut bool) -> Result<(), ConfigError> {
        // `normalize` has turned every boolean form into `true` or `false`.
        if let Some(value) = self.one(flag)? {
            *target = value == "true";
        }
        Ok(())
    }

    fn set_parsed<T>(
        &mut self,
        flag: &'static str,
        parse: fn(&str) -> Result<T, String>,
        target: &mut T,
    ) -> Result<(), ConfigError> {
        if let Some(value) = self.one(flag)? {
            *target = parsed(flag, &value, parse)?;
        }
        Ok(())
    }
}

fn parsed<T>(
    flag: &str,
    value: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|reason| invalid_value(flag, value, &reason))
}

fn invalid_value(flag: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(format!(
        "invalid value {:?} for flag '{}': {}, try --help",
        value, flag, reason
    ))
}

fn missing_value(flag: &str) -> ConfigError {
    ConfigError::new(format!("expected argument for flag '{}', try --help", flag))
}

fn unexpected(arg: &str) -> ConfigError {
    ConfigError::new(format!("unexpected argument {:?}, try --help", arg))
}

fn parse_log_level(value: &str) -> Result<log::Level, String> {
    log::Level::parse(value).ok_or_else(|| "expected one of debug, info, warn, error".to_string())
}

fn parse_log_format(value: &str) -> Result<log::Format, String> {
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

/// Parses a byte count: digits, optionally followed by `KiB`, `MiB` or `GiB`.
/// A plain non-negative count.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).and_then(|d| {
        if d.is_zero() {
            Err("must be more than 0s".to_string())
        } else {
            Ok(d)
        }
    })
}

fn parse_positive_count(text: &str) -> Result<usize, String> {
    parse_count(text).and_then(|n| {
        if n == 0 {
            Err("must be at least 1".to_string())
        } else {
            Ok(n)
        }
    })
}

fn parse_count(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .map_err(|_| "expected a non-negative integer".to_string())
}

fn parse_byte_size(text: &str) -> Result<u64, String> {
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
fn parse_listen_address(text: &str) -> Result<ListenAddress, String> {
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

/// The path of a URL given as `scheme://host[:port]/path`, `//host/path` or
/// a bare path; query and fragment dropped. Lenient on purpose: upstream
/// takes whatever Go's `url.Parse` calls the path.
fn url_path(url: &str) -> &str {
    let url = url.split(['?', '#']).next().unwrap_or("");
    let after_authority = match url.split_once("://") {
        Some((_, rest)) => Some(rest),
        None => url.strip_prefix("//"),
    };
    match after_authority {
        Some(rest) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => url,
    }
}

/// §2.3: `/` and empty become empty, a leading `/` is added, one trailing
/// `/` removed.
fn normalize_prefix(prefix: &str) -> String {
    let mut prefix = if prefix.starts_with('/') {
        prefix.to_string()
    } else {
        format!("/{}", prefix)
    };
    if prefix.ends_with('/') {
        prefix.pop();
    }
    // Whatever is left is `/…`, or empty for `/` and `//`, which mean the root.
    if prefix == "/" {
        prefix.clear();
    }
    prefix
}

/// The `--help` text; defaults come from [`Config::default`] so they cannot
/// drift from the values actually used.
fn help_text() -> String {
    let defaults = Config::default().flag_values();
    let mut out = String::from(
        "usage: pushgate [<flags>]\n\n\
         pushgate accepts metrics pushed by batch jobs over HTTP and exposes them\n\
         for Prometheus to scrape. It is a drop-in replacement for the Prometheus\n\
         Pushgateway: same URLs, flags, status codes and exposition.\n\
         Flags marked [pushgate] do not exist upstream.\n\n\
         Commands:\n  \
         pushgate import UPSTREAM_FILE [OUT]\n      \
         List the groups in upstream Pushgateway's persistence file; with OUT,\n      \
         also write them to OUT in pushgate's format. (An upstream file named\n      \
         by the persistence flag is imported at start anyway.)\n  \
         pushgate healthcheck [--url URL]\n      \
         Exit 0 if the gateway answers its health URL (container health checks).\n\n\
         Flags:\n",
    );
    out.push_str("  -h, --help\n      Show this help and exit.\n");
    out.push_str("  --version\n      Show version information and exit.\n");
    for spec in FLAGS {
        let default = defaults
            .iter()
            .find(|(name, _)| *name == spec.name())
            .map_or("", |(_, value)| value.as_str());
        let usage = match spec.kind {
            Kind::Bool => format!("--[no-]{}  (default {})", spec.name(), default),
            _ => format!("{}={:?}", spec.flag, default),
        };
        let marker = if spec.pushgate_only {
            "[pushgate] "
        } else {
            ""
        };
        out.push_str(&format!("  {}\n      {}{}\n", usage, marker, spec.help));
    }
    out
}

/// `--help-man`: the help as a man(7) page, as kingpin prints it.
fn man_text() -> String {
    let defaults = Config::default().flag_values();
    let escape = |s: &str| s.replace('\\', "\\e").replace('-', "\\-");
    let mut out = format!(
        ".TH pushgate 1 \"{}\"\n.SH \"NAME\"\npushgate\n.SH \"SYNOPSIS\"\n.TP\n\\fBpushgate [<flags>]\\fR\n\
         .SH \"DESCRIPTION\"\nA drop-in replacement for the Prometheus Pushgateway.\n.SH \"OPTIONS\"\n",
        escape(&version_text().lines().next().unwrap_or("").replace('"', "'"))
    );
    out.push_str(
        ".TP\n\\fB\\-h, \\-\\-help\\fR\nShow help (also \\-\\-help\\-long and \\-\\-help\\-man).\n",
    );
    out.push_str(".TP\n\\fB\\-\\-version\\fR\nShow version information and exit.\n");
    for spec in FLAGS {
        let default = defaults
            .iter()
            .find(|(name, _)| *name == spec.name())
            .map_or("", |(_, value)| value.as_str());
        let usage = match spec.kind {
            Kind::Bool => spec.flag.to_string(),
            _ => format!("{}={:?}", spec.flag, default),
        };
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(&usage),
            escape(spec.help)
        ));
    }
    out
}

/// The `--version` text in upstream's (Prometheus `version.Print`) layout.
fn version_text() -> String {
    let info = telemetry::build_info();
    format!(
        "pushgate, version {} (branch: {}, revision: {})\n  \
         build user:       {}\n  \
         build date:       {}\n  \
         go version:       {}\n  \
         platform:         {}/{}\n",
        info.version,
        info.branch,
        info.revision,
        info.build_user,
        info.build_date,
        info.rust_version,
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH),
    )
}

/// Go's name for a CPU architecture, which scripts parsing `--version` expect.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn parse(list: &[&str]) -> Result<Config, ConfigError> {
        match Config::from_args(args(list))? {
            Command::Run(config) => Ok(*config),
            other => panic!("{:?}: expected a run command, got {:?}", list, other),
        }
    }

    fn parse_ok(list: &[&str]) -> Config {
        match parse(list) {
            Ok(config) => config,
            Err(err) => panic!("{:?}: unexpected error: {}", list, err),
        }
    }

    fn parse_err(list: &[&str]) -> String {
        match Config::from_args(args(list)) {
            Ok(command) => panic!("{:?}: expected an error, got {:?}", list, command),
            Err(err) => err.to_string(),
        }
    }

    fn flag_value(config: &Config, name: &str) -> String {
        match config.flag_values().into_iter().find(|(n, _)| *n == name) {
            Some((_, value)) => value,
            None => panic!("flag_values lacks {}", name),
        }
    }

    fn with_prefix(route_prefix: &str, external_url: &str) -> Config {
        Config {
            route_prefix_flag: route_prefix.to_string(),
            external_url: external_url.to_string(),
            ..Config::default()
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let config = parse_ok(&[]);
        assert_eq!(config.flag_values(), Config::default().flag_values());
        assert_eq!(config.listen_addresses, vec![ListenAddress::AnyHost(9091)]);
    }

    #[test]
    fn default_flag_values_match_the_status_example() {
        // §8.2, `flags` object, in its (sorted) order.
        let expected = [
            ("log.format", "logfmt"),
            ("log.level", "info"),
            ("persistence.file", ""),
            ("persistence.interval", "5m0s"),
            ("push.disable-consistency-check", "false"),
            ("push.enable-utf8-names", "false"),
            ("push.group-ttl", "0s"),
            ("push.max-body-bytes", "67108864"),
            ("push.max-families-per-push", "100000"),
            ("push.max-groups", "0"),
            ("push.max-label-name-length", "1024"),
            ("push.max-label-value-length", "65536"),
            ("push.max-labels-per-series", "128"),
            ("push.max-metric-name-length", "1024"),
            ("push.max-series", "0"),
            ("push.max-series-per-push", "1000000"),
            ("web.config.file", ""),
            ("web.enable-admin-api", "false"),
            ("web.enable-lifecycle", "false"),
            ("web.external-url", ""),
            ("web.health-includes-scrape", "false"),
            ("web.idle-timeout", "2m0s"),
            ("web.listen-address", ":9091"),
            ("web.local-assets", ""),
            ("web.max-connections", "4096"),
            ("web.read-header-timeout", "30s"),
            ("web.read-timeout", "5m0s"),
            ("web.route-prefix", ""),
            ("web.shutdown-timeout", "5s"),
            ("web.systemd-socket", "false"),
            ("web.telemetry-path", "/metrics"),
            ("web.write-timeout", "5m0s"),
        ];
        let actual = Config::default().flag_values();
        let actual: Vec<(&str, &str)> = actual.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn flag_table_and_flag_values_name_the_same_flags() {
        let mut table: Vec<&str> = FLAGS.iter().map(FlagSpec::name).collect();
        table.sort_unstable();
        let values: Vec<&str> = Config::default()
            .flag_values()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(table, values);
    }

    #[test]
    fn every_value_flag_in_both_syntaxes() {
        // (flag, value given, name in flag_values, value reported)
        let table = [
            (
                "--web.listen-address",
                "127.0.0.1:0",
                "web.listen-address",
                "127.0.0.1:0",
            ),
            (
                "--web.config.file",
                "/etc/web.yml",
                "web.config.file",
                "/etc/web.yml",
            ),
            ("--web.telemetry-path", "/m", "web.telemetry-path", "/m"),
            (
                "--web.external-url",
                "http://e/pg/",
                "web.external-url",
                "http://e/pg/",
            ),
            ("--web.route-prefix", "/pg", "web.route-prefix", "/pg"),
            (
                "--persistence.file",
                "/var/pg.db",
                "persistence.file",
                "/var/pg.db",
            ),
            (
                "--persistence.interval",
                "1h",
                "persistence.interval",
                "1h0m0s",
            ),
            ("--log.level", "debug", "log.level", "debug"),
            ("--log.format", "json", "log.format", "json"),
            ("--push.group-ttl", "1.5s", "push.group-ttl", "1.5s"),
            (
                "--push.max-body-bytes",
                "1024",
                "push.max-body-bytes",
                "1024",
            ),
        ];
        for (flag, given, name, reported) in table {
            let joined = format!("{}={}", flag, given);
            for list in [vec![joined.as_str()], vec![flag, given]] {
                let config = parse_ok(&list);
                assert_eq!(flag_value(&config, name), reported, "{:?}", list);
            }
        }
    }

    #[test]
    fn every_boolean_flag_in_every_syntax() {
        let flags = [
            "web.systemd-socket",
            "web.enable-lifecycle",
            "web.enable-admin-api",
            "push.disable-consistency-check",
            "push.enable-utf8-names",
            "web.health-includes-scrape",
        ];
        for name in flags {
            let forms = [
                (format!("--{}", name), "true"),
                (format!("--{}=true", name), "true"),
                (format!("--{}=false", name), "false"),
                (format!("--no-{}", name), "false"),
            ];
            for (arg, expected) in forms {
                let config = parse_ok(&[arg.as_str()]);
                assert_eq!(flag_value(&config, name), expected, "{}", arg);
            }
        }
    }

    #[test]
    fn boolean_flags_set_their_fields() {
        let config = parse_ok(&[
            "--web.systemd-socket",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            "--push.disable-consistency-check",
            "--push.enable-utf8-names",
            "--web.health-includes-scrape",
        ]);
        assert!(config.systemd_socket);
        assert!(config.enable_lifecycle);
        assert!(config.enable_admin_api);
        assert!(config.disable_consistency_check);
        assert!(config.enable_utf8_names);
        assert!(config.health_includes_scrape);
    }

    #[test]
    fn typed_values_reach_their_fields() {
        let config = parse_ok(&[
            "--persistence.interval=2h45m",
            "--push.group-ttl",
            "10m",
            "--log.level=warn",
            "--log.format=json",
            "--push.max-body-bytes=2MiB",
        ]);
        assert_eq!(config.persistence_interval, Duration::from_secs(9900));
        assert_eq!(config.group_ttl, Duration::from_secs(600));
        assert_eq!(config.log_level, log::Level::Warn);
        assert_eq!(config.log_format, log::Format::Json);
        assert_eq!(config.max_body_bytes, 2 << 20);
    }

    #[test]
    fn empty_values_are_accepted() {
        let config = parse_ok(&["--persistence.file=", "--web.route-prefix", ""]);
        assert_eq!(config.persistence_file, "");
        assert_eq!(config.route_prefix_flag, "");
    }

    #[test]
    fn quotes_and_equals_signs_in_values_are_kept() {
        let config = parse_ok(&["--persistence.file=\"a=b\""]);
        assert_eq!(config.persistence_file, "\"a=b\"");
    }

    #[test]
    fn listen_addresses_replace_the_default_and_keep_their_order() {
        let config = parse_ok(&[
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address",
            "[::1]:2",
            "--web.listen-address=:3",
        ]);
        assert_eq!(
            config.listen_addresses_raw,
            ["127.0.0.1:1", "[::1]:2", ":3"]
        );
        assert_eq!(
            flag_value(&config, "web.listen-address"),
            "127.0.0.1:1,[::1]:2,:3"
        );
        assert_eq!(config.listen_addresses.len(), 3);
        assert_eq!(config.listen_addresses[2], ListenAddress::AnyHost(3));
    }

    #[test]
    fn help_and_version_commands() {
        for flag in ["-h", "--help"] {
            match Config::from_args(args(&["--log.level=debug", flag])) {
                Ok(Command::Help(text)) => assert!(text.starts_with("usage: pushgate"), "{}", flag),
                other => panic!("{}: expected help, got {:?}", flag, other),
            }
        }
        match Config::from_args(args(&["--version"])) {
            Ok(Command::Version(text)) => {
                assert!(text.starts_with("pushgate, version "), "{}", text);
                assert!(text.contains("(branch: "), "{}", text);
                assert!(text.contains("\n  build user:"), "{}", text);
                assert!(text.contains("\n  build date:"), "{}", text);
                assert!(text.contains("\n  go version:"), "{}", text);
                assert!(text.contains("\n  platform:"), "{}", text);
            }
            other => panic!("expected version, got {:?}", other),
        }
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = help_text();
        for spec in FLAGS {
            let line = help
                .lines()
                .find(|line| line.contains(spec.name()))
                .unwrap_or_else(|| panic!("help lacks {}", spec.flag));
            match spec.kind {
                Kind::Bool => assert!(line.contains("(default false)"), "{}", line),
                _ => assert!(line.contains('='), "{}", line),
            }
        }
        assert!(help.contains("--persistence.interval=\"5m0s\""));
        assert!(help.contains("[pushgate] Delete groups"));
        assert_eq!(help.matches("      [pushgate] ").count(), 17);
    }

    #[test]
    fn command_line_errors_name_the_problem() {
        // (arguments, text the one-line error must contain)
        let table: &[(&[&str], &str)] = &[
            (&["--foo"], "unknown long flag '--foo', try --help"),
            (&["--foo=bar"], "unknown long flag '--foo'"),
            (&["-x"], "unknown short flag '-x'"),
            (&["stray"], "unexpected argument \"stray\""),
            (&["--", "stray"], "unexpected argument \"stray\""),
            (
                &["--web.enable-lifecycle", "true"],
                "unexpected argument \"true\"",
            ),
            (
                &["--no-web.enable-lifecycle=true"],
                "unexpected argument \"true\"",
            ),
            (
                &["--web.enable-lifecycle=maybe"],
                "\"maybe\" for flag '--web.enable-lifecycle'",
            ),
            (
                &["--web.route-prefix"],
                "expected argument for flag '--web.route-prefix'",
            ),
            (
                &["--persistence.file", "--web.enable-lifecycle"],
                "expected argument for flag '--persistence.file'",
            ),
            (
                &["--web.route-prefix=--log.level"],
                "expected argument for flag '--web.route-prefix'",
            ),
            (
                &["--log.level=info", "--log.level=warn"],
                "flag '--log.level' cannot be repeated",
            ),
            (
                &["--web.enable-lifecycle", "--no-web.enable-lifecycle"],
                "flag '--web.enable-lifecycle' cannot be repeated",
            ),
            (
                &["--log.level=verbose"],
                "invalid value \"verbose\" for flag '--log.level'",
            ),
            (
                &["--log.format=xml"],
                "invalid value \"xml\" for flag '--log.format'",
            ),
            (
                &["--persistence.interval=5x"],
                "invalid value \"5x\" for flag '--persistence.interval'",
            ),
            (
                &["--persistence.interval="],
                "invalid value \"\" for flag '--persistence.interval'",
            ),
            (&["--persistence.interval=-1s"], "must not be negative"),
            (
                &["--push.group-ttl=-5m"],
                "invalid value \"-5m\" for flag '--push.group-ttl'",
            ),
            (
                &["--push.max-body-bytes=12kb"],
                "invalid value \"12kb\" for flag '--push.max-body-bytes'",
            ),
            (
                &["--push.max-body-bytes=-1"],
                "invalid value \"-1\" for flag '--push.max-body-bytes'",
            ),
            (
                &["--web.listen-address=example.com:9091"],
                "binds IP addresses only",
            ),
            (&["--web.listen-address=vsock://3:9091"], "not supported"),
            (&["--web.listen-address=:65536"], "invalid port \"65536\""),
            (&["--web.telemetry-path="], "must not be empty"),
        ];
        for (list, expected) in table {
            let message = parse_err(list);
            assert!(
                message.contains(expected),
                "{:?}: {:?} lacks {:?}",
                list,
                message,
                expected
            );
            assert!(
                !message.contains('\n'),
                "{:?}: not one line: {:?}",
                list,
                message
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_argument_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        let arg = OsString::from_vec(b"--persistence.file=\xff".to_vec());
        let err = Config::from_args(vec![arg]).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("not valid UTF-8"), "{}", err);
    }

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

    #[test]
    fn route_prefixes() {
        // (route prefix flag, external URL, P, external path prefix)
        let table = [
            ("", "", "", ""),
            ("/", "", "", ""),
            ("pg", "", "/pg", ""),
            ("/pg/", "", "/pg", ""),
            ("/a/b", "", "/a/b", ""),
            ("", "http://example.com/pg/", "/pg", "/pg"),
            ("", "http://example.com:9091/pg", "/pg", "/pg"),
            ("", "http://example.com", "", ""),
            ("", "http://example.com/", "", ""),
            ("", "https://example.com/pg/?x=1#top", "/pg", "/pg"),
            ("", "//example.com/pg", "/pg", "/pg"),
            ("", "/pg/", "/pg", "/pg"),
            ("/other", "http://example.com/pg/", "/other", "/pg"),
            ("/", "http://example.com/pg/", "", "/pg"),
        ];
        for (flag, url, prefix, external) in table {
            let config = with_prefix(flag, url);
            assert_eq!(config.route_prefix(), prefix, "{:?} {:?}", flag, url);
            assert_eq!(
                config.external_path_prefix(),
                external,
                "{:?} {:?}",
                flag,
                url
            );
        }
    }

    #[test]
    fn route_prefix_from_the_command_line() {
        let config = parse_ok(&["--web.external-url", "http://example.com/pg/"]);
        assert_eq!(config.route_prefix(), "/pg");
        let config = parse_ok(&["--web.external-url=http://e/pg/", "--web.route-prefix=/x/"]);
        assert_eq!(config.route_prefix(), "/x");
        assert_eq!(config.external_path_prefix(), "/pg");
    }

    #[test]
    fn telemetry_path_gets_a_leading_slash() {
        assert_eq!(
            parse_ok(&["--web.telemetry-path=metrics"]).telemetry_path(),
            "/metrics"
        );
        assert_eq!(
            parse_ok(&["--web.telemetry-path=/m"]).telemetry_path(),
            "/m"
        );
        assert_eq!(Config::default().telemetry_path(), "/metrics");
    }

    #[test]
    fn go_architecture_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }
}

//! Command-line flags → a validated [`Config`].
//!
//! Flag names and defaults are upstream's (kingpin style: `--name=value`,
//! `--name value`, `--flag`/`--no-flag` for booleans); pushgate-only flags are
//! marked in the help text. Every flag is one row of the table in
//! `config/flags.rs`; `config/args.rs` reads the command line with
//! pico-args, `config/parse.rs` parses the values, `config/help.rs` writes
//! `--help`, `--help-man` and `--version`. This module holds the resulting
//! types and derives the effective route prefix and telemetry route; it
//! does not bind sockets, read the web config file or resolve host names.

mod args;
mod flags;
mod help;
mod parse;

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use crate::log;
use flags::FLAGS;
pub use parse::parse_duration;

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
        args::parse(args)
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
        let mut values: Vec<(&'static str, String)> = FLAGS
            .iter()
            .map(|spec| (spec.name(), (spec.show)(self)))
            .collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        values
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

#[cfg(test)]
mod tests {
    use super::flags::{FlagSpec, Kind};
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
        let help = help::help_text();
        for spec in FLAGS {
            let line = help
                .lines()
                .find(|line| line.contains(spec.name()))
                .unwrap_or_else(|| panic!("help lacks {}", spec.flag));
            match spec.kind {
                Kind::Bool(_) => assert!(line.contains("(default false)"), "{}", line),
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
}

//! Command-line flags → a validated [`Config`].
//!
//! Flag names and defaults are upstream's (kingpin style: `--name=value`,
//! `--name value`, `--flag`/`--no-flag` for booleans); pushgate-only flags are
//! marked in the help text. Parsing uses pico-args. This module also derives
//! the effective route prefix and telemetry route from the flags.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use crate::log;

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
            health_includes_scrape: false,
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
    pub fn from_args(_args: Vec<OsString>) -> Result<Command, ConfigError> {
        Ok(Command::Run(Box::default()))
    }

    /// The effective route prefix `P`: `--web.route-prefix` if non-empty,
    /// else the path of `--web.external-url`; `/` becomes empty, a leading `/`
    /// is added, one trailing `/` removed.
    pub fn route_prefix(&self) -> String {
        String::new()
    }

    /// The prefix the UI uses for links and assets: the path of
    /// `--web.external-url`, normalised like [`Config::route_prefix`].
    pub fn external_path_prefix(&self) -> String {
        String::new()
    }

    /// The telemetry path relative to the route prefix, with a leading `/`.
    pub fn telemetry_path(&self) -> String {
        "/metrics".to_string()
    }

    /// Every flag except help/version with its value as upstream prints it in
    /// `/api/v1/status` (Go-style booleans and durations), sorted by name.
    pub fn flag_values(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

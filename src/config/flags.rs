//! The flag table: every flag pushgate accepts, once. A row gives the
//! flag's name, how it takes its value and where the value goes in
//! [`Config`], how `/api/v1/status` shows it (which, applied to
//! [`Config::default`], is also the default `--help` prints), and its help
//! line. Parsing (`args`), `--help` and `--help-man` (`help`) and the flag
//! lists of `/api/v1/status` and the status page
//! ([`Config::flag_values`]) all read this table, so a flag is added or
//! changed in one place.

use super::args::invalid_value;
use super::parse::{
    parse_byte_size, parse_count, parse_duration, parse_listen_address, parse_log_format,
    parse_log_level, parse_positive_count, parse_positive_duration,
};
use super::{Config, ConfigError};
use crate::gofmt::format_duration;

/// How a flag takes its value, and where the value goes.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// `--x`, `--no-x`, `--x=true|false`: the field it sets.
    Bool(fn(&mut Config) -> &mut bool),
    /// `--x=v` or `--x v`, at most once: stores the value, or says why it
    /// cannot be used.
    Value(fn(&mut Config, &str) -> Result<(), String>),
    /// Like `Value`, but may be given several times: stores every value,
    /// in command-line order.
    Repeatable(fn(&mut Config, Vec<String>) -> Result<(), ConfigError>),
}

/// One row of the flag table.
pub(super) struct FlagSpec {
    /// With its leading `--`.
    pub(super) flag: &'static str,
    pub(super) kind: Kind,
    /// The value as `/api/v1/status` shows it (Go-style booleans and
    /// durations).
    pub(super) show: fn(&Config) -> String,
    /// Marked `[pushgate]` in the help: upstream has no such flag.
    pub(super) pushgate_only: bool,
    pub(super) help: &'static str,
}

impl FlagSpec {
    /// The name without `--`, as `/api/v1/status` lists it.
    pub(super) fn name(&self) -> &'static str {
        &self.flag[2..]
    }
}

/// An upstream flag.
const fn spec(
    flag: &'static str,
    kind: Kind,
    show: fn(&Config) -> String,
    help: &'static str,
) -> FlagSpec {
    FlagSpec {
        flag,
        kind,
        show,
        pushgate_only: false,
        help,
    }
}

/// A flag upstream does not have.
const fn own(
    flag: &'static str,
    kind: Kind,
    show: fn(&Config) -> String,
    help: &'static str,
) -> FlagSpec {
    FlagSpec {
        flag,
        kind,
        show,
        pushgate_only: true,
        help,
    }
}

/// Stores a parsed value in its field.
fn set<T>(field: &mut T, value: Result<T, String>) -> Result<(), String> {
    *field = value?;
    Ok(())
}

/// Every flag, in help-text order (which is also the order they are read).
pub(super) const FLAGS: &[FlagSpec] = &[
    spec(
        "--web.listen-address",
        Kind::Repeatable(|c, values| {
            c.listen_addresses = values
                .iter()
                .map(|a| {
                    parse_listen_address(a)
                        .map_err(|reason| invalid_value("--web.listen-address", a, &reason))
                })
                .collect::<Result<_, _>>()?;
            c.listen_addresses_raw = values;
            Ok(())
        }),
        |c| c.listen_addresses_raw.join(","),
        "Address to listen on (host:port, :port, [v6]:port); repeatable.",
    ),
    spec(
        "--web.systemd-socket",
        Kind::Bool(|c| &mut c.systemd_socket),
        |c| c.systemd_socket.to_string(),
        "Use sockets passed by systemd (LISTEN_FDS) instead (Linux).",
    ),
    spec(
        "--web.config.file",
        Kind::Value(|c, v| set(&mut c.web_config_file, Ok(v.to_string()))),
        |c| c.web_config_file.clone(),
        "Web configuration file enabling TLS, basic auth, headers, rate limits.",
    ),
    spec(
        "--web.local-assets",
        Kind::Value(|c, v| set(&mut c.local_assets, Ok(v.to_string()))),
        |c| c.local_assets.clone(),
        "Accepted for Debian's upstream package and ignored: the web assets are built in.",
    ),
    spec(
        "--web.telemetry-path",
        Kind::Value(|c, v| {
            if v.is_empty() {
                return Err("the scrape path must not be empty".to_string());
            }
            set(&mut c.telemetry_path, Ok(v.to_string()))
        }),
        |c| c.telemetry_path.clone(),
        "Path under which to expose metrics.",
    ),
    spec(
        "--web.external-url",
        Kind::Value(|c, v| set(&mut c.external_url, Ok(v.to_string()))),
        |c| c.external_url.clone(),
        "URL under which pushgate is reachable from outside.",
    ),
    spec(
        "--web.route-prefix",
        Kind::Value(|c, v| set(&mut c.route_prefix_flag, Ok(v.to_string()))),
        |c| c.route_prefix_flag.clone(),
        "Prefix of all routes; defaults to the path of --web.external-url.",
    ),
    spec(
        "--web.enable-lifecycle",
        Kind::Bool(|c| &mut c.enable_lifecycle),
        |c| c.enable_lifecycle.to_string(),
        "Enable shutdown via PUT/POST /-/quit.",
    ),
    spec(
        "--web.enable-admin-api",
        Kind::Bool(|c| &mut c.enable_admin_api),
        |c| c.enable_admin_api.to_string(),
        "Enable PUT /api/v1/admin/wipe, which deletes every group.",
    ),
    spec(
        "--persistence.file",
        Kind::Value(|c, v| set(&mut c.persistence_file, Ok(v.to_string()))),
        |c| c.persistence_file.clone(),
        "File to persist metrics to; empty keeps them in memory only.",
    ),
    spec(
        "--persistence.interval",
        Kind::Value(|c, v| set(&mut c.persistence_interval, parse_duration(v))),
        |c| format_duration(c.persistence_interval),
        "Minimum time between writes of the persistence file.",
    ),
    spec(
        "--push.disable-consistency-check",
        Kind::Bool(|c| &mut c.disable_consistency_check),
        |c| c.disable_consistency_check.to_string(),
        "Do not check pushed metrics for consistency (answers 202). DANGEROUS.",
    ),
    spec(
        "--push.enable-utf8-names",
        Kind::Bool(|c| &mut c.enable_utf8_names),
        |c| c.enable_utf8_names.to_string(),
        "Accept UTF-8 metric and label names.",
    ),
    spec(
        "--log.level",
        Kind::Value(|c, v| set(&mut c.log_level, parse_log_level(v))),
        |c| c.log_level.as_str().to_string(),
        "Minimum log level: debug, info, warn or error.",
    ),
    spec(
        "--log.format",
        Kind::Value(|c, v| set(&mut c.log_format, parse_log_format(v))),
        |c| c.log_format.as_str().to_string(),
        "Log line format: logfmt or json.",
    ),
    own(
        "--push.group-ttl",
        Kind::Value(|c, v| set(&mut c.group_ttl, parse_duration(v))),
        |c| format_duration(c.group_ttl),
        "Delete groups not pushed to for this long; 0s keeps them forever.",
    ),
    own(
        "--push.max-body-bytes",
        Kind::Value(|c, v| set(&mut c.max_body_bytes, parse_byte_size(v))),
        |c| c.max_body_bytes.to_string(),
        "Largest push body, raw and decompressed (KiB/MiB/GiB suffixes); 0 = no limit.",
    ),
    own(
        "--push.max-series",
        Kind::Value(|c, v| set(&mut c.max_series, parse_count(v))),
        |c| c.max_series.to_string(),
        "Most series stored (push-time gauges included); pushes beyond get 429. 0 = no limit.",
    ),
    own(
        "--web.idle-timeout",
        Kind::Value(|c, v| set(&mut c.idle_timeout, parse_duration(v))),
        |c| format_duration(c.idle_timeout),
        "Close keep-alive connections without a request for this long; 0s = never.",
    ),
    own(
        "--web.read-header-timeout",
        Kind::Value(|c, v| set(&mut c.read_header_timeout, parse_positive_duration(v))),
        |c| format_duration(c.read_header_timeout),
        "Close connections whose request head (or TLS handshake) takes longer.",
    ),
    own(
        "--web.read-timeout",
        Kind::Value(|c, v| set(&mut c.read_timeout, parse_positive_duration(v))),
        |c| format_duration(c.read_timeout),
        "Close connections whose request body takes longer after its head.",
    ),
    own(
        "--web.write-timeout",
        Kind::Value(|c, v| set(&mut c.write_timeout, parse_positive_duration(v))),
        |c| format_duration(c.write_timeout),
        "Close connections that take longer to read a response.",
    ),
    own(
        "--web.max-connections",
        Kind::Value(|c, v| set(&mut c.max_connections, parse_positive_count(v))),
        |c| c.max_connections.to_string(),
        "Most open client connections; beyond, the oldest without a request is closed, else 503.",
    ),
    own(
        "--web.shutdown-timeout",
        Kind::Value(|c, v| set(&mut c.shutdown_timeout, parse_duration(v))),
        |c| format_duration(c.shutdown_timeout),
        "On SIGTERM, SIGINT or /-/quit, let in-flight requests finish for this long.",
    ),
    own(
        "--push.max-families-per-push",
        Kind::Value(|c, v| set(&mut c.push_limits.families, parse_count(v))),
        |c| c.push_limits.families.to_string(),
        "Most metric families in one push; more get 413. 0 = no limit.",
    ),
    own(
        "--push.max-series-per-push",
        Kind::Value(|c, v| set(&mut c.push_limits.series, parse_count(v))),
        |c| c.push_limits.series.to_string(),
        "Most series in one push; more get 413. 0 = no limit.",
    ),
    own(
        "--push.max-labels-per-series",
        Kind::Value(|c, v| set(&mut c.push_limits.labels_per_series, parse_count(v))),
        |c| c.push_limits.labels_per_series.to_string(),
        "Most labels on one pushed series; more get 400. 0 = no limit.",
    ),
    own(
        "--push.max-label-name-length",
        Kind::Value(|c, v| set(&mut c.push_limits.label_name_bytes, parse_count(v))),
        |c| c.push_limits.label_name_bytes.to_string(),
        "Longest label name in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-label-value-length",
        Kind::Value(|c, v| set(&mut c.push_limits.label_value_bytes, parse_count(v))),
        |c| c.push_limits.label_value_bytes.to_string(),
        "Longest label value in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-metric-name-length",
        Kind::Value(|c, v| set(&mut c.push_limits.metric_name_bytes, parse_count(v))),
        |c| c.push_limits.metric_name_bytes.to_string(),
        "Longest metric name in bytes; longer get 400. 0 = no limit.",
    ),
    own(
        "--push.max-groups",
        Kind::Value(|c, v| set(&mut c.max_groups, parse_count(v))),
        |c| c.max_groups.to_string(),
        "Most groups stored; pushes creating more get 429. 0 = no limit.",
    ),
    own(
        "--web.health-includes-scrape",
        Kind::Bool(|c| &mut c.health_includes_scrape),
        |c| c.health_includes_scrape.to_string(),
        "Make /-/healthy and /-/ready fail while a scrape would fail.",
    ),
];

/// The row of `flag` (with its `--`).
pub(super) fn find_flag(flag: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|spec| spec.flag == flag)
}

//! The application state every worker shares ([`App`]) and its one
//! constructor.
//!
//! `App::new` turns a parsed [`Config`] and the web config into the store,
//! the own metrics and the per-handler settings; `main` and the tests build
//! the application through it, so a test answers requests as the binary
//! does. How a request reaches a handler is `router`'s job; how the process
//! stops is `main`'s, which hands `App` the sending end of its shutdown
//! channel for `/-/quit`.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use crate::api::MetricsCache;
use crate::auth::WebAuth;
use crate::config::Config;
use crate::go;
use crate::kept::PerGroup;
use crate::model::NameValidation;
use crate::push::PushSettings;
use crate::scrape::{ScrapeCache, ScrapeSettings};
use crate::server::Refusal;
use crate::store::{CheckMode, Policy, ReservedFamily, Store};
use crate::telemetry::{self, Telemetry};

/// Why the process is shutting down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownReason {
    Signal(&'static str),
    QuitEndpoint,
}

/// State shared by every worker thread.
pub struct App {
    pub config: Config,
    pub store: Arc<Store>,
    pub telemetry: Telemetry,
    /// Unix nanoseconds when the process started.
    pub start_time: i64,
    pub push: PushSettings,
    pub scrape: ScrapeSettings,
    /// Rendered stored families, reused until the store changes.
    pub scrape_cache: ScrapeCache,
    /// `/api/v1/metrics`, reused until the store changes.
    pub api_cache: MetricsCache,
    /// The web UI's family views per group, reused until the group changes.
    pub ui_cache: PerGroup,
    /// Effective route prefix `P` (empty or `/x`).
    pub prefix: String,
    /// Telemetry path below `P`, with a leading `/`.
    pub telemetry_path: String,
    /// `--web.config.file`: auth, rate limit and headers around every request.
    pub web: WebAuth,
    /// Where `/-/quit` sends its request to stop; see [`App::on_shutdown`].
    shutdown: Mutex<Option<Sender<ShutdownReason>>>,
}

impl App {
    /// The application for `config`: an empty store with the flags' policy
    /// (own metric names reserved), fresh own metrics, and `web` around
    /// every request. Restoring the persistence file is the caller's step.
    pub fn new(config: Config, web: WebAuth) -> App {
        let mode = if config.disable_consistency_check {
            CheckMode::Unchecked
        } else {
            CheckMode::Checked
        };
        let names = if config.enable_utf8_names {
            NameValidation::Utf8
        } else {
            NameValidation::Legacy
        };
        let reserved = telemetry::own_families()
            .iter()
            .map(|f| ReservedFamily {
                name: f.name.to_string(),
                kind: f.kind,
            })
            .collect();
        let telemetry = Telemetry::new();
        let reasons: Vec<&'static str> = Refusal::ALL.iter().map(|r| r.as_str()).collect();
        telemetry.declare_refusal_reasons(&reasons);
        App {
            store: Arc::new(Store::new(reserved, mode, names).with_policy(Policy {
                default_ttl: (!config.group_ttl.is_zero()).then_some(config.group_ttl),
                max_series: config.max_series,
                max_groups: config.max_groups,
            })),
            telemetry,
            start_time: go::unix_nanos_now(),
            push: PushSettings {
                mode,
                names,
                max_body_bytes: config.max_body_bytes,
                limits: config.push_limits,
            },
            scrape: ScrapeSettings {
                utf8_names: config.enable_utf8_names,
            },
            scrape_cache: ScrapeCache::default(),
            api_cache: MetricsCache::default(),
            ui_cache: PerGroup::default(),
            prefix: config.route_prefix(),
            telemetry_path: config.telemetry_path(),
            web,
            shutdown: Mutex::new(None),
            config,
        }
    }

    /// Where `/-/quit` sends [`ShutdownReason::QuitEndpoint`] from now on.
    pub fn on_shutdown(&self, tx: Sender<ShutdownReason>) {
        *self.shutdown.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    }

    /// Asks the process to stop for `reason`; nothing happens before
    /// [`App::on_shutdown`] (tests) or once shutdown is under way.
    pub fn request_shutdown(&self, reason: ShutdownReason) {
        let sender = self
            .shutdown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(tx) = sender {
            // The receiver lives as long as main; a send error means
            // shutdown is already under way.
            let _ = tx.send(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn flags_reach_the_store_and_the_settings() {
        let app = App::new(
            Config {
                route_prefix_flag: "/pg/".to_string(),
                telemetry_path: "m".to_string(),
                enable_utf8_names: true,
                ..Config::default()
            },
            WebAuth::disabled(),
        );
        assert_eq!(app.prefix, "/pg");
        assert_eq!(app.telemetry_path, "/m");
        assert_eq!(app.push.names, NameValidation::Utf8);
        assert!(app.scrape.utf8_names);
        assert_eq!(app.push.max_body_bytes, 64 << 20);
        assert!(app.store.groups().is_empty());
    }

    #[test]
    fn quit_reaches_the_channel_once_installed() {
        let app = App::new(Config::default(), WebAuth::disabled());
        // Before main installs the channel the request goes nowhere.
        app.request_shutdown(ShutdownReason::QuitEndpoint);
        let (tx, rx) = mpsc::channel();
        app.on_shutdown(tx);
        app.request_shutdown(ShutdownReason::QuitEndpoint);
        assert_eq!(rx.try_recv(), Ok(ShutdownReason::QuitEndpoint));
        assert!(rx.try_recv().is_err());
    }
}

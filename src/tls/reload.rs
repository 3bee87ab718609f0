//! [`TlsReloader`]: the [`ServerConfigSource`] that picks up changed
//! certificate, key and CA files (and a changed `tls_server_config` in the
//! web config file) without a restart.
//!
//! A watcher thread stats the files once a second and rebuilds the
//! configuration when one changed, so [`ServerConfigSource::current`] on the
//! accept path is a lock and a reference count, never disk or crypto.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::ServerConfig;

use super::{build, ServerConfigSource};
use crate::auth::FileStamp;
use crate::log;
use crate::webconfig::{self, TlsServerConfig, WebConfigError};

/// How often the watcher looks at the files' metadata.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Serves the last good TLS configuration and rebuilds it when a file it was
/// built from changes. A change that does not build (a half-written file, a
/// key that does not match the certificate) keeps the previous
/// configuration and logs one error; the next change is tried again.
pub struct TlsReloader {
    /// The web config file, re-read when it changes; `None` when the
    /// settings were given directly.
    web_config: Option<PathBuf>,
    current: Mutex<Arc<ServerConfig>>,
    watched: Mutex<Watched>,
}

/// The settings last tried and the file versions they were read from.
struct Watched {
    tls: TlsServerConfig,
    stamps: Vec<Option<FileStamp>>,
}

impl TlsReloader {
    /// From the `--web.config.file` flag value: `Ok(None)` when it is empty
    /// or the file has no (or an empty) `tls_server_config`.
    pub fn from_flag(value: &str) -> Result<Option<TlsReloader>, WebConfigError> {
        if value.is_empty() {
            return Ok(None);
        }
        let path = PathBuf::from(value);
        let Some(tls) = webconfig::load(&path)?.tls else {
            return Ok(None);
        };
        TlsReloader::build(tls, Some(path.clone()))
            .map(Some)
            .map_err(|e| e.in_file(&path))
    }

    /// From settings alone (inline PEM or files; the files are watched).
    pub fn new(tls: TlsServerConfig) -> Result<TlsReloader, WebConfigError> {
        TlsReloader::build(tls, None)
    }

    fn build(
        tls: TlsServerConfig,
        web_config: Option<PathBuf>,
    ) -> Result<TlsReloader, WebConfigError> {
        // Stamp before reading: a change in between is seen at the next check.
        let stamps = stamps(web_config.as_deref(), &tls);
        let config = build::server_config(&tls)?;
        Ok(TlsReloader {
            web_config,
            current: Mutex::new(Arc::new(config)),
            watched: Mutex::new(Watched { tls, stamps }),
        })
    }

    /// Starts the thread that calls [`TlsReloader::check`] every
    /// [`CHECK_INTERVAL`]; it ends once the reloader is dropped.
    pub fn spawn_watcher(self: &Arc<Self>) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("tls-reload".into())
            .spawn(move || loop {
                std::thread::sleep(CHECK_INTERVAL);
                match weak.upgrade() {
                    Some(reloader) => {
                        reloader.check();
                    }
                    None => return,
                }
            })?;
        Ok(())
    }

    /// Rebuilds the configuration if a watched file changed since the last
    /// check; returns true if new connections now get a new configuration.
    pub fn check(&self) -> bool {
        let mut watched = lock(&self.watched);
        let now = stamps(self.web_config.as_deref(), &watched.tls);
        if now == watched.stamps {
            return false;
        }
        let tls = match self.reread_settings(&watched.tls) {
            Ok(tls) => tls,
            Err(e) => {
                watched.stamps = now;
                log::error(
                    "cannot reload the TLS configuration; keeping the previous one",
                    &[("err", &e)],
                );
                return false;
            }
        };
        // What is tried now is remembered even if it fails, so a broken
        // file is reported once, not every second.
        watched.stamps = stamps(self.web_config.as_deref(), &tls);
        let result = build::server_config(&tls);
        watched.tls = tls;
        match result {
            Ok(config) => {
                *lock(&self.current) = Arc::new(config);
                log::info("TLS configuration reloaded", &[]);
                true
            }
            Err(e) => {
                let e = match &self.web_config {
                    Some(path) => e.in_file(path),
                    None => e,
                };
                log::error(
                    "cannot reload the TLS configuration; keeping the previous one",
                    &[("err", &e)],
                );
                false
            }
        }
    }

    /// The settings to build from: the web config's current section, or the
    /// ones given at start.
    fn reread_settings(&self, previous: &TlsServerConfig) -> Result<TlsServerConfig, String> {
        let Some(path) = &self.web_config else {
            return Ok(previous.clone());
        };
        match webconfig::load(path) {
            Ok(config) => config.tls.ok_or_else(|| {
                format!(
                    "web config file {:?}: tls_server_config was removed; restart pushgate to \
                     serve plain HTTP",
                    path.display().to_string()
                )
            }),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl ServerConfigSource for TlsReloader {
    fn current(&self) -> Arc<ServerConfig> {
        lock(&self.current).clone()
    }
}

/// Stamps of the web config file (if any) and of every file `tls` names; a
/// missing file is `None`, so its return is a change too.
fn stamps(web_config: Option<&Path>, tls: &TlsServerConfig) -> Vec<Option<FileStamp>> {
    web_config
        .into_iter()
        .chain(tls.files())
        .map(|path| FileStamp::of(path).ok())
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

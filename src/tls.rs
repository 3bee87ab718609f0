//! TLS for the listeners: the contract between `server`, which runs
//! handshakes and encrypts connections, and the code that turns the web
//! config's `tls_server_config` into a `rustls::ServerConfig`
//! ([`build`], [`names`], [`san`]) and keeps it current ([`TlsReloader`]).
//!
//! `server` asks for the current configuration once per accepted connection,
//! so certificate files re-read by the source take effect for new
//! connections without a restart; connections already open keep theirs.

use std::sync::Arc;

pub mod build;
pub mod names;
mod reload;
pub mod san;
#[cfg(test)]
pub(crate) mod testpki;
#[cfg(test)]
mod tests;

pub use reload::{TlsReloader, CHECK_INTERVAL};

/// Hands out the TLS configuration new connections use.
pub trait ServerConfigSource: Send + Sync {
    /// The configuration for a connection accepted now. Cheap: called on the
    /// accept path, so it must not block on disk for long or run crypto.
    fn current(&self) -> Arc<rustls::ServerConfig>;
}

//! pushgate: a small, static, synchronous drop-in replacement for the
//! Prometheus Pushgateway.
//!
//! The crate is a library with one binary (`src/main.rs`) so that fuzz
//! targets and benchmarks can call the parsers directly. Data flows one way:
//! `server` (the only module that knows sockets) → `router` → `push` (URL,
//! `body`, `exposition`/`proto` decoding) → `store` → `scrape`/`api`/`ui`
//! rendering; `app` holds the state they share, `persist` sits beside the
//! store and `model` is the shared vocabulary.

pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod client;
pub mod config;
pub mod exposition;
pub mod go;
pub mod gzip;
pub mod healthcheck;
pub mod histogram;
pub mod http;
pub mod json;
pub mod kept;
pub mod log;
pub mod matcher;
pub mod model;
pub mod persist;
pub mod proto;
pub mod push;
pub mod router;
pub mod scrape;
pub mod server;
pub mod shards;
pub mod signals;
pub mod store;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testutil;
pub mod tls;
pub mod ui;
pub mod webconfig;

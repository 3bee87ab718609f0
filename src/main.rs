//! pushgate: a small, static, synchronous drop-in replacement for the
//! Prometheus Pushgateway.

mod api;
mod body;
mod config;
mod exposition;
mod gofmt;
mod http;
mod log;
mod model;
mod proto;
mod store;
mod telemetry;

fn main() {}

//! pushgate: a small, static, synchronous drop-in replacement for the
//! Prometheus Pushgateway.
//!
//! `main` only wires the parts together: flags → log → store → listeners →
//! workers, then waits for SIGINT/SIGTERM or `/-/quit` and shuts down in
//! order (stop accepting, finish in-flight requests, exit 0).

mod api;
mod body;
mod config;
mod exposition;
mod gofmt;
mod http;
mod log;
mod model;
mod persist;
mod proto;
mod push;
mod router;
mod scrape;
mod server;
mod signals;
mod store;
mod telemetry;
mod ui;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};

use config::{Command, Config};
use model::NameValidation;
use router::{App, ShutdownReason};
use store::{CheckMode, ReservedFamily, Store};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match Config::from_args(args) {
        Ok(Command::Run(config)) => run(*config),
        Ok(Command::Help(text)) | Ok(Command::Version(text)) => {
            print!("{}", text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pushgate: error: {}", e);
            ExitCode::from(2)
        }
    }
}

fn run(config: Config) -> ExitCode {
    log::init(config.log_level, config.log_format);
    if let Err(e) = signals::block_termination_signals() {
        log::error("cannot block termination signals", &[("err", &e)]);
        return ExitCode::FAILURE;
    }
    let build = telemetry::build_info();
    log::info(
        "starting pushgate",
        &[("version", &build.version), ("revision", &build.revision)],
    );
    let app = Arc::new(build_app(config));
    let listeners = match server::bind(&app.config.listen_addresses) {
        Ok(l) => l,
        Err(e) => {
            log::error("cannot open listener", &[("err", &e)]);
            return ExitCode::FAILURE;
        }
    };
    let (tx, rx) = mpsc::channel();
    *app.shutdown.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx.clone());
    spawn_signal_waiter(tx);
    let servers = match server::start(app.clone(), listeners) {
        Ok(s) => s,
        Err(e) => {
            log::error("cannot start HTTP server", &[("err", &e)]);
            return ExitCode::FAILURE;
        }
    };
    match rx.recv() {
        Ok(ShutdownReason::Signal(name)) => {
            log::info(&format!("received {}; exiting gracefully...", name), &[])
        }
        Ok(ShutdownReason::QuitEndpoint) => log::warn(
            "received termination request via web service, exiting gracefully...",
            &[],
        ),
        Err(_) => log::error("shutdown channel closed unexpectedly", &[]),
    }
    servers.stop();
    log::info("HTTP server stopped", &[]);
    ExitCode::SUCCESS
}

fn build_app(config: Config) -> App {
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
    App {
        store: Arc::new(Store::new(reserved, mode, names)),
        telemetry: telemetry::Telemetry::new(),
        start_time: gofmt::unix_nanos_now(),
        push: push::PushSettings {
            mode,
            names,
            max_body_bytes: config.max_body_bytes,
        },
        scrape: scrape::ScrapeSettings {
            utf8_names: config.enable_utf8_names,
        },
        prefix: config.route_prefix(),
        telemetry_path: config.telemetry_path(),
        shutdown: Mutex::new(None),
        config,
    }
}

fn spawn_signal_waiter(tx: mpsc::Sender<ShutdownReason>) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || match signals::wait_for_termination() {
            Ok(name) => {
                let _ = tx.send(ShutdownReason::Signal(name));
            }
            Err(e) => log::error("waiting for signals failed", &[("err", &e)]),
        });
    if let Err(e) = spawned {
        log::error("cannot start the signal thread", &[("err", &e)]);
    }
}

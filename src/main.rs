//! The pushgate binary.
//!
//! `main` only wires the parts together: flags → log → store → listeners →
//! workers, then waits for SIGINT/SIGTERM or `/-/quit` and shuts down in
//! order (stop accepting, finish in-flight requests, exit 0). SIGHUP only
//! re-reads the web config.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};

use pushgate::app::{App, ShutdownReason};
use pushgate::config::{Command, Config};
use pushgate::tls::{ServerConfigSource, TlsReloader};
use pushgate::{go, healthcheck, log, persist, server, signals, telemetry};

/// glibc's malloc keeps what request threads free in per-thread arenas (up
/// to 8 per core) and, once a large block is freed, raises its mmap
/// threshold so that later large blocks come from those arenas too. After a
/// 60 s run of pushes and scrapes at 10,000 groups x 10 series, that held
/// 240 MiB resident against musl's 84 MiB (scripts/bench/bench.sh --glibc). Two
/// arenas and fixed thresholds give freed memory back; musl needs nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Subcommands take the arguments after their name; anything else is
    // the gateway's own flags.
    let subcommand: Option<fn(&[String]) -> u8> = match args.first().and_then(|a| a.to_str()) {
        Some("healthcheck") => Some(healthcheck::run),
        Some("shards") => Some(pushgate::shards::run),
        Some("import") => Some(persist::upstream::run_import_command),
        _ => None,
    };
    if let Some(run_subcommand) = subcommand {
        let rest: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return ExitCode::from(run_subcommand(&rest));
    }
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
    match server::raise_fd_limit() {
        Ok(n) => log::debug("descriptor limit", &[("max_fds", &n)]),
        Err(e) => log::warn("cannot raise the descriptor limit", &[("err", &e)]),
    }
    let web = match pushgate::auth::WebAuth::from_flag(&config.web_config_file) {
        Ok(web) => web,
        Err(e) => {
            log::error("invalid web config", &[("err", &e)]);
            return ExitCode::FAILURE;
        }
    };
    let tls = match tls_source(&config.web_config_file) {
        Ok(tls) => tls,
        Err(()) => return ExitCode::FAILURE,
    };
    let app = Arc::new(App::new(config, web));
    // Restoring completes before any listener opens (§10).
    let persistence = match persist::start(
        &app.config.persistence_file,
        app.config.persistence_interval,
        &app.store,
        &app.telemetry.persistence,
    ) {
        Ok(p) => p,
        Err(e) => {
            log::error("cannot use the persistence file", &[("err", &e)]);
            return ExitCode::FAILURE;
        }
    };
    let listeners = if app.config.systemd_socket {
        server::systemd_listeners()
    } else {
        server::bind(&app.config.listen_addresses)
    };
    let listeners = match listeners {
        Ok(l) => l,
        Err(e) => {
            log::error("cannot open listener", &[("err", &e)]);
            return ExitCode::FAILURE;
        }
    };
    let (tx, rx) = mpsc::channel();
    app.on_shutdown(tx.clone());
    spawn_signal_waiter(tx, app.clone());
    spawn_expiry(app.clone());
    let limits = server::Limits {
        read_header_timeout: app.config.read_header_timeout,
        read_timeout: app.config.read_timeout,
        write_timeout: app.config.write_timeout,
        idle_timeout: app.config.idle_timeout,
        max_connections: app.config.max_connections,
        max_body_bytes: app.config.max_body_bytes,
        shutdown_timeout: app.config.shutdown_timeout,
        ..server::Limits::default()
    };
    let servers = match server::start(app.clone(), listeners, tls, limits) {
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
    persist::finish(persistence, &app.store);
    log::info("HTTP server stopped", &[]);
    ExitCode::SUCCESS
}

/// The web config's `tls_server_config` as a reloading source (every
/// listener then speaks TLS), or `None` for plain HTTP. Errors are logged.
fn tls_source(web_config_file: &str) -> Result<Option<Arc<dyn ServerConfigSource>>, ()> {
    let reloader = match TlsReloader::from_flag(web_config_file) {
        Ok(Some(reloader)) => Arc::new(reloader),
        Ok(None) => return Ok(None),
        Err(e) => {
            log::error("invalid TLS configuration", &[("err", &e)]);
            return Err(());
        }
    };
    if let Err(e) = reloader.spawn_watcher() {
        log::error("cannot start the TLS reload thread", &[("err", &e)]);
        return Err(());
    }
    log::info("TLS is enabled", &[]);
    Ok(Some(reloader))
}

/// Drops groups whose TTL ran out. Four checks a second keep an expired
/// group visible for at most 250 ms; each check is O(log groups).
fn spawn_expiry(app: Arc<App>) {
    let spawned = std::thread::Builder::new()
        .name("expiry".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            app.api_cache
                .forget_if_idle(pushgate::api::METRICS_CACHE_IDLE);
            app.ui_cache.forget_if_idle(pushgate::ui::FAMILY_VIEWS_IDLE);
            for key in app.store.expire(go::unix_nanos_now()) {
                app.telemetry.count_expired_group();
                log::info("group expired", &[("group", &key)]);
            }
        });
    if let Err(e) = spawned {
        log::error("cannot start the expiry thread", &[("err", &e)]);
    }
}

/// SIGINT and SIGTERM end the process through `tx`; SIGHUP re-reads the web
/// config and keeps everything else (store, listeners, snapshot timer).
fn spawn_signal_waiter(tx: mpsc::Sender<ShutdownReason>, app: Arc<App>) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match signals::wait() {
                Ok(signals::Signal::Reload) => {
                    log::info("received SIGHUP; reloading the web config", &[]);
                    app.web.reload();
                }
                Ok(signals::Signal::Terminate(name)) => {
                    let _ = tx.send(ShutdownReason::Signal(name));
                    return;
                }
                Err(e) => {
                    log::error("waiting for signals failed", &[("err", &e)]);
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        log::error("cannot start the signal thread", &[("err", &e)]);
    }
}

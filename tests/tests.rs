//! Black-box conformance suite: every test starts its own gateway process and
//! checks one case of the conformance checklist of docs/spec.md (§18).
//!
//! Run `PUSHGATE_TEST_UPSTREAM=1 cargo test --test tests` to check the
//! expectations against upstream Pushgateway; pushgate-only cases skip there.
//! Cargo.toml sets `autotests = false`, so the area modules beside this file
//! are compiled once, into this one binary.

mod util;

// Routing, redirects and health endpoints (cases 1–4).
mod routing;
// The push URL grammar: job, labels, base64, U__ names, UTF-8 (cases 5–18).
mod push_url;
// Text, gzip and size-limited request bodies and parser errors (19–22, 24, 58).
mod bodies;
// Protobuf and snappy bodies and the protobuf scrape (17 V5, 23, 25, 39, 44).
mod proto_bodies;
// PUT/POST/DELETE semantics, label sanitising, managed gauges (26–31).
mod semantics;
// The consistency check and unchecked mode (cases 32–37).
mod consistency;
// Scrape content types, compression, float format and HEAD (38, 40–42).
mod scrape;
// The JSON API: metrics, status, CORS, order and wipe (43, 45–48).
mod api;
// /-/quit, signals and exit codes (case 49 and process lifecycle).
mod lifecycle;
// pushgate-only features: group TTL, budgets, bulk delete (§17.1–§17.3).
mod improvements;
// pushgate shards: ls, reconcile, delete and wipe across shards (README, "Scaling out").
mod shards;
// Connection robustness: idle clients, descriptor exhaustion, bursts (§17.6).
mod connections;
// Hostile clients: framing, smuggling, slow and huge requests (§17.6).
mod hostile;
// --web.config.file: basic auth per endpoint class, write users, headers, reload (§14).
mod auth;
// tls_server_config: curl, Python, openssl and rustls clients, client certs, reload (§14).
mod tls;
// Persistence: restart round trips, corrupt files, locking, kill -9 (§12).
mod persist;
// Fixtures captured from upstream Pushgateway, pushed back and compared (§7, §8).
mod fixtures_upstream;
// Hostile bodies (fuzz-style, fixed seed): no crash, store untouched (§4, §17.4).
mod robustness;
// Operations: SIGHUP, process start time under systemd, persistence metrics (§10, §12).
mod operations;
// Every committed fuzz input replayed through its target's checks.
mod fuzz_regressions;
// Every §N and case NN cited in the code exists in docs/spec.md.
mod docs_refs;
// Migration from upstream: its persistence file, wire and log compatibility (§12, §2, §15).
mod migrate;

//! Black-box conformance suite: every test starts its own gateway process and
//! checks one case of the behaviour reference's checklist (§18) over HTTP.
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
// pushgate-only features: group TTL, budgets, bulk delete (issue 9).
mod improvements;
// Connection robustness: idle clients, descriptor exhaustion, bursts (issue 7).
mod connections;
// --web.config.file: basic auth per endpoint class, write users, headers, reload (issue 7).
mod auth;
// Persistence: restart round trips, corrupt files, locking, kill -9 (issue 4).
mod persist;
// Fixtures captured from upstream Pushgateway, pushed back and compared (issue 3).
mod fixtures_upstream;
// Hostile bodies (fuzz-style, fixed seed): no crash, store untouched (issues 3, 7).
mod robustness;
// Migration from upstream: its persistence file, wire and log compatibility (issue 17).
mod migrate;

//! Black-box conformance suite: every test starts its own gateway process and
//! checks one case of the behaviour reference's checklist (§18) over HTTP.
//!
//! Run `PUSHGATE_TEST_UPSTREAM=1 cargo test --test tests` to check the
//! expectations against upstream Pushgateway; pushgate-only cases skip there.
//! Area modules live in `cases/` so that Cargo does not build each one as a
//! test binary of its own.

mod util;

// Routing, redirects and health endpoints (cases 1–4).
#[path = "cases/routing.rs"]
mod routing;
// The push URL grammar: job, labels, base64, U__ names, UTF-8 (cases 5–18).
#[path = "cases/push_url.rs"]
mod push_url;
// Text, gzip and size-limited request bodies and parser errors (19–22, 24, 58).
#[path = "cases/bodies.rs"]
mod bodies;
// Protobuf and snappy bodies and the protobuf scrape (17 V5, 23, 25, 39, 44).
#[path = "cases/proto_bodies.rs"]
mod proto_bodies;
// PUT/POST/DELETE semantics, label sanitising, managed gauges (26–31).
#[path = "cases/semantics.rs"]
mod semantics;
// The consistency check and unchecked mode (cases 32–37).
#[path = "cases/consistency.rs"]
mod consistency;
// Scrape content types, compression, float format and HEAD (38, 40–42).
#[path = "cases/scrape.rs"]
mod scrape;
// The JSON API: metrics, status, CORS, order and wipe (43, 45–48).
#[path = "cases/api.rs"]
mod api;
// /-/quit, signals and exit codes (case 49 and process lifecycle).
#[path = "cases/lifecycle.rs"]
mod lifecycle;

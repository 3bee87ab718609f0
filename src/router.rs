//! Routing: method and path → handler, with upstream's routing rules.
//!
//! Every route is one row of [`ROUTES`]: a path below the route prefix, the
//! methods it answers and, for each, the handler label counted in own
//! metrics. Around the table this module applies the route prefix, path
//! cleaning and trailing-slash redirects, 404/405 answers with `Allow`, HEAD
//! wherever GET works and OPTIONS everywhere. A panicking handler is caught
//! here and answered 500; the store stays usable. The state it routes to is
//! [`App`] (`app.rs`); no socket or wire format appears here (that is
//! `server`'s job).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::api;
use crate::app::{App, ShutdownReason};
use crate::go;
use crate::http::{Method, Request, Response, Status};
use crate::log;
use crate::push;
use crate::scrape;
use crate::ui;

/// Why the router answers a request itself instead of a handler.
/// [`RouteError::status`] is the router's one status match (redirects
/// take theirs from [`code_for`]); Display is the body, upstream's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No route for the path (Go's mux text).
    NotFound,
    /// Routes for the path, none for the method; `Allow` lists these.
    MethodNotAllowed(Vec<&'static str>),
    /// GET or HEAD on `/-/quit`.
    QuitNeedsPostOrPut,
    /// `/-/quit` without `--web.enable-lifecycle`.
    LifecycleDisabled,
    /// A health check that includes the scrape found this problem.
    Unhealthy(String),
    /// The handler panicked (logged where it is caught).
    Panicked,
}

impl RouteError {
    pub fn status(&self) -> Status {
        match self {
            RouteError::NotFound => Status::NOT_FOUND,
            RouteError::MethodNotAllowed(_) | RouteError::QuitNeedsPostOrPut => {
                Status::METHOD_NOT_ALLOWED
            }
            RouteError::LifecycleDisabled => Status::FORBIDDEN,
            RouteError::Unhealthy(_) | RouteError::Panicked => Status::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer. The two lifecycle texts go out without the newline Go's
    /// `http.Error` adds, as upstream writes them.
    pub fn response(&self) -> Response {
        match self {
            RouteError::NotFound => Response::not_found(),
            RouteError::MethodNotAllowed(allowed) => Response::method_not_allowed(allowed),
            RouteError::QuitNeedsPostOrPut | RouteError::LifecycleDisabled => {
                Response::plain(self.status(), &self.to_string())
            }
            RouteError::Unhealthy(_) | RouteError::Panicked => {
                Response::error(self.status(), &self.to_string())
            }
        }
    }
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::NotFound => f.write_str("404 page not found"),
            RouteError::MethodNotAllowed(_) => f.write_str("Method Not Allowed"),
            RouteError::QuitNeedsPostOrPut => f.write_str("Only POST or PUT requests allowed."),
            RouteError::LifecycleDisabled => f.write_str("Lifecycle API is not enabled."),
            RouteError::Unhealthy(first) => write!(f, "metrics cannot be gathered: {}", first),
            RouteError::Panicked => f.write_str("Internal Server Error"),
        }
    }
}

impl std::error::Error for RouteError {}

/// One route: where it is, when it exists, and what each method does.
struct Route {
    path: PathPattern,
    /// Exists only with `--web.enable-admin-api`; otherwise the path has no
    /// route at all (404, as upstream).
    admin: bool,
    /// `GET` also answers `HEAD`; OPTIONS is answered for every route.
    methods: &'static [Handler],
}

/// Which paths below the route prefix a route answers.
#[derive(Clone, Copy)]
enum PathPattern {
    /// Exactly this path.
    Exact(&'static str),
    /// This path followed by at least one more byte.
    Below(&'static str),
    /// `--web.telemetry-path`.
    Telemetry,
}

/// What one method of a route does; `label` is the `handler` label in
/// `pushgateway_http_requests_total` (`None` = not counted).
struct Handler {
    method: &'static str,
    label: Option<&'static str>,
    action: Action,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The grouping key is read from the raw target (push::raw_push_segments).
    Push,
    Scrape,
    Health,
    Quit,
    Ui,
    Static,
    ApiStatus,
    ApiMetrics,
    Wipe,
    DeleteGroups,
}

const fn on(method: &'static str, label: Option<&'static str>, action: Action) -> Handler {
    Handler {
        method,
        label,
        action,
    }
}

const fn route(path: PathPattern, methods: &'static [Handler]) -> Route {
    Route {
        path,
        admin: false,
        methods,
    }
}

const fn admin(path: &'static str, methods: &'static [Handler]) -> Route {
    Route {
        path: PathPattern::Exact(path),
        admin: true,
        methods,
    }
}

const PUSH: &[Handler] = &[
    on("PUT", Some("push"), Action::Push),
    on("POST", Some("push"), Action::Push),
    on("DELETE", Some("delete"), Action::Push),
];

/// Every route, tried in this order; the first whose path matches wins.
const ROUTES: &[Route] = {
    use Action::*;
    use PathPattern::{Below, Exact, Telemetry};
    &[
        route(Below("/metrics/job@base64/"), PUSH),
        route(Below("/metrics/job/"), PUSH),
        route(Telemetry, &[on("GET", None, Scrape)]),
        route(Exact("/-/healthy"), &[on("GET", Some("healthy"), Health)]),
        route(Exact("/-/ready"), &[on("GET", Some("ready"), Health)]),
        route(
            Exact("/-/quit"),
            &[on("PUT", None, Quit), on("POST", None, Quit)],
        ),
        route(Exact("/"), &[on("GET", Some("status"), Ui)]),
        route(Exact("/status"), &[on("GET", Some("status"), Ui)]),
        route(
            Exact("/api/v1/status"),
            &[on("GET", Some("api/v1/status"), ApiStatus)],
        ),
        route(
            Exact("/api/v1/metrics"),
            &[on("GET", Some("api/v1/metrics"), ApiMetrics)],
        ),
        admin("/api/v1/admin/wipe", &[on("PUT", Some("wipe"), Wipe)]),
        // pushgate only: bulk delete, guarded like the admin API.
        admin(
            "/api/v1/groups",
            &[on("DELETE", Some("api/v1/groups"), DeleteGroups)],
        ),
        route(Below("/static/"), &[on("GET", Some("static"), Static)]),
    ]
};

impl Route {
    /// What `method` does on this route, or `None` for 405.
    fn handler(&self, method: &Method) -> Option<&'static Handler> {
        let name = match method {
            Method::Head => "GET",
            other => other.as_str(),
        };
        self.methods.iter().find(|h| h.method == name)
    }

    /// The `Allow` header's methods: the route's, HEAD with GET, and
    /// OPTIONS, sorted.
    fn allow(&self) -> Vec<&'static str> {
        let mut allow: Vec<&'static str> = self.methods.iter().map(|h| h.method).collect();
        if allow.contains(&"GET") {
            allow.push("HEAD");
        }
        allow.push("OPTIONS");
        allow.sort_unstable();
        allow.dedup();
        allow
    }
}

impl App {
    /// Answers one request. Never panics: a panic inside a handler becomes 500.
    pub fn handle(&self, req: &Request) -> Response {
        self.caught(req, || self.web.guard(req, || self.route(req)))
    }

    /// Runs `f`, answering 500 if it panics.
    fn caught(&self, req: &Request, f: impl FnOnce() -> Response) -> Response {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(resp) => resp,
            Err(panic) => {
                log::request_panicked(&req.path, panic.as_ref());
                RouteError::Panicked.response()
            }
        }
    }

    fn route(&self, req: &Request) -> Response {
        let path = req.path.as_slice();
        if let Some(clean) = cleaned(&req.raw_url) {
            return redirect(&req.method, Status::MOVED_PERMANENTLY, &clean);
        }
        // Upstream registers GET /-/quit outside the prefix.
        if path == b"/-/quit" && matches!(req.method, Method::Get | Method::Head) {
            return RouteError::QuitNeedsPostOrPut.response();
        }
        let rest: &[u8] = if self.prefix.is_empty() {
            path
        } else if path == self.prefix.as_bytes() {
            return redirect(
                &req.method,
                code_for(&req.method),
                &format!("{}/", self.prefix),
            );
        } else {
            match path.strip_prefix(self.prefix.as_bytes()) {
                Some(r) if r.starts_with(b"/") => r,
                _ => return RouteError::NotFound.response(),
            }
        };
        // Upstream answers every OPTIONS below the API root with CORS headers.
        if req.method == Method::Options && rest.starts_with(b"/api/v1/") {
            let resp = api::options();
            self.telemetry
                .count_request("api/v1/options", &req.method.label(), resp.status);
            return resp;
        }
        let Some(route) = self.match_path(rest) else {
            return self.no_match(req, rest);
        };
        if req.method == Method::Options {
            return Response::empty(Status::OK).with_header("Allow", &route.allow().join(", "));
        }
        let Some(handler) = route.handler(&req.method) else {
            return RouteError::MethodNotAllowed(route.allow()).response();
        };
        let started = Instant::now();
        let received_at = go::unix_nanos_now();
        let resp = self.run(req, handler.action, received_at);
        if let Some(label) = handler.label {
            self.telemetry
                .count_request(label, &req.method.label(), resp.status);
        }
        if handler.action == Action::Push && matches!(req.method, Method::Put | Method::Post) {
            self.telemetry.observe_push(
                &req.method.label(),
                started.elapsed(),
                approximate_request_size(req),
            );
        }
        resp
    }

    /// The first route whose path is `rest` (the path below the prefix).
    fn match_path(&self, rest: &[u8]) -> Option<&'static Route> {
        ROUTES.iter().find(|route| {
            if route.admin && !self.config.enable_admin_api {
                return false;
            }
            match route.path {
                PathPattern::Exact(p) => rest == p.as_bytes(),
                PathPattern::Below(p) => rest.len() > p.len() && rest.starts_with(p.as_bytes()),
                PathPattern::Telemetry => rest == self.telemetry_path.as_bytes(),
            }
        })
    }

    fn run(&self, req: &Request, action: Action, received_at: i64) -> Response {
        match action {
            Action::Push => push::handle(req, &self.prefix, &self.store, &self.push, received_at),
            Action::Scrape => scrape::handle(
                req,
                &self.store,
                &self.telemetry,
                &self.scrape_cache,
                self.scrape,
            ),
            Action::Health => self.health(),
            Action::Quit => self.quit(),
            Action::Ui => ui::page(
                &self.store.groups(),
                &ui::PageContext::new(&self.config, self.start_time),
                &self.ui_cache,
            ),
            Action::Static => {
                let path = String::from_utf8_lossy(&req.path);
                ui::asset(path.rsplit('/').next().unwrap_or(""))
            }
            Action::ApiStatus => api::status(&self.config, self.start_time),
            Action::ApiMetrics => self.api_cache.response(&self.store),
            Action::Wipe => {
                let n = self.store.wipe();
                log::info("wiped metric store", &[("groups", &n)]);
                Response::empty(Status::ACCEPTED)
            }
            Action::DeleteGroups => api::delete_groups(req, &self.store),
        }
    }

    fn health(&self) -> Response {
        // Taking the store lock proves the writer is not wedged; a wedged
        // writer makes this hang, which a liveness probe's timeout notices.
        self.store.ping();
        if self.config.health_includes_scrape {
            if let Err(problems) = self.store.exposition() {
                let first = problems.problems.first().cloned().unwrap_or_default();
                return RouteError::Unhealthy(first).response();
            }
        }
        Response::plain(Status::OK, "OK")
    }

    fn quit(&self) -> Response {
        if !self.config.enable_lifecycle {
            return RouteError::LifecycleDisabled.response();
        }
        self.request_shutdown(ShutdownReason::QuitEndpoint);
        Response::plain(Status::OK, "Requesting termination... Goodbye!")
    }

    /// No route: maybe a trailing-slash redirect, `/api/v1` → `/api/v1/`, or 404.
    fn no_match(&self, req: &Request, rest: &[u8]) -> Response {
        if rest == b"/api/v1" {
            return redirect(
                &req.method,
                Status::MOVED_PERMANENTLY,
                &format!("{}/api/v1/", self.prefix),
            );
        }
        // A push path with an empty job: upstream's router suggests the path
        // without the slash (which then has no route and 404s); for
        // `/metrics/job@base64/` it answers 404 at once.
        if rest == b"/metrics/job/" {
            let location = format!(
                "{}{}",
                self.prefix,
                String::from_utf8_lossy(&rest[..rest.len() - 1])
            );
            return redirect(&req.method, code_for(&req.method), &location);
        }
        let toggled: Vec<u8> = match rest.strip_suffix(b"/") {
            Some(r) if !r.is_empty() => r.to_vec(),
            Some(_) => return RouteError::NotFound.response(),
            None => [rest, b"/"].concat(),
        };
        // Only towards a route of this method, as upstream's router: `POST
        // /metrics/` is 404, not a redirect to the GET-only `/metrics`.
        if let Some(route) = self.match_path(&toggled) {
            if req.method != Method::Options && route.handler(&req.method).is_none() {
                return RouteError::NotFound.response();
            }
            let location = format!("{}{}", self.prefix, String::from_utf8_lossy(&toggled));
            return redirect(&req.method, code_for(&req.method), &location);
        }
        RouteError::NotFound.response()
    }
}

/// The HTTP server's view of the application: authentication and the rate
/// limit are decided on the head (`admit`) for requests with a body, and
/// charged once: an admitted request is not checked again.
impl crate::server::Service for App {
    fn admit(&self, head: &Request) -> Result<(), Response> {
        match self.web.check(head, crate::auth::Access::of(&head.method)) {
            Some(reject) => Err(reject),
            None => Ok(()),
        }
    }

    fn admits_every_head(&self) -> bool {
        !self.web.is_enabled()
    }

    fn handle(&self, req: &Request, admitted: bool) -> Response {
        if !admitted {
            return App::handle(self, req);
        }
        let mut resp = self.caught(req, || self.route(req));
        crate::auth::add_headers(&mut resp, &self.web.extra_headers());
        resp
    }

    fn refused(&self, reason: crate::server::Refusal) {
        self.telemetry.count_refusal(reason.as_str());
    }
}

/// 301 for GET (and HEAD), 307 otherwise, so a redirected PUT stays a PUT.
fn code_for(method: &Method) -> Status {
    match method {
        Method::Get | Method::Head => Status::MOVED_PERMANENTLY,
        _ => Status::TEMPORARY_REDIRECT,
    }
}

/// A redirect as Go's `http.Redirect` sends it: a small HTML body for GET
/// and HEAD, no body (and no Content-Type) for other methods.
fn redirect(method: &Method, code: Status, location: &str) -> Response {
    let resp = Response::empty(code).with_header("Location", location);
    if !matches!(method, Method::Get | Method::Head) {
        return resp;
    }
    let text = code.reason();
    let body = format!(
        "<a href=\"{}\">{}</a>.\n\n",
        crate::ui::escape(location),
        text
    );
    resp.with_header("Content-Type", "text/html; charset=utf-8")
        .with_body(body.into_bytes())
}

/// The cleaned path (plus query) if the raw path contains `//`, `/./` or
/// `/../` segments (Go's `path.Clean`, keeping a trailing slash); `None`
/// when it is already clean.
fn cleaned(raw_url: &str) -> Option<String> {
    let (path, query) = match raw_url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw_url, None),
    };
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/').skip(1) {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut clean = format!("/{}", segments.join("/"));
    let ends_in_dir = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if ends_in_dir && clean != "/" {
        clean.push('/');
    }
    if clean == path {
        return None;
    }
    Some(match query {
        Some(q) => format!("{}?{}", clean, q),
        None => clean,
    })
}

/// Upstream's approximation of a request's size: target, method, protocol,
/// header names and values, and the body length when known. As seen by Go's
/// server: `Host` is not among the headers (only its value counts), and
/// `Transfer-Encoding` is removed, its chunked body having no known length.
fn approximate_request_size(req: &Request) -> f64 {
    let mut size = req.raw_url.len() + req.method.as_str().len() + "HTTP/1.1".len();
    let mut chunked = false;
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("host") {
            size += value.len();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else {
            size += name.len() + value.len();
        }
    }
    if let crate::http::Body::Complete(b) = &req.body {
        if !chunked {
            size += b.len();
        }
    }
    size as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_size_as_gos_server_sees_it() {
        let mut req = Request::new(Method::Put, "/metrics/job/j");
        req.headers = vec![
            ("Host".into(), "127.0.0.1:9091".into()),
            ("User-Agent".into(), "curl/7.88.1".into()),
            ("Content-Length".into(), "4".into()),
        ];
        req.body = crate::http::Body::Complete(b"m 1\n".to_vec());
        // 14 target + 3 method + 8 protocol + 14 host value + 21 + 15 headers + 4 body.
        assert_eq!(approximate_request_size(&req), 79.0);
        req.headers[2] = ("Transfer-Encoding".into(), "chunked".into());
        assert_eq!(approximate_request_size(&req), 60.0);
    }

    #[test]
    fn allow_lists_follow_the_route_table() {
        let allow = |path: &str| {
            let route = ROUTES.iter().find(|r| match r.path {
                PathPattern::Exact(p) | PathPattern::Below(p) => p == path,
                PathPattern::Telemetry => path.is_empty(),
            });
            route.map(Route::allow).unwrap_or_default()
        };
        assert_eq!(allow("/metrics/job/"), ["DELETE", "OPTIONS", "POST", "PUT"]);
        assert_eq!(allow(""), ["GET", "HEAD", "OPTIONS"]);
        assert_eq!(allow("/static/"), ["GET", "HEAD", "OPTIONS"]);
        assert_eq!(allow("/-/quit"), ["OPTIONS", "POST", "PUT"]);
        assert_eq!(allow("/api/v1/admin/wipe"), ["OPTIONS", "PUT"]);
        assert_eq!(allow("/api/v1/groups"), ["DELETE", "OPTIONS"]);
    }

    #[test]
    fn head_takes_the_get_handler() {
        let Some(healthy) = ROUTES
            .iter()
            .find(|r| matches!(r.path, PathPattern::Exact("/-/healthy")))
        else {
            panic!("no /-/healthy route");
        };
        let label = |m: Method| healthy.handler(&m).and_then(|h| h.label);
        assert_eq!(label(Method::Head), Some("healthy"));
        assert_eq!(label(Method::Get), Some("healthy"));
        assert_eq!(label(Method::Put), None);
        assert!(healthy.handler(&Method::Options).is_none());
    }

    #[test]
    fn every_route_error_has_its_status_and_text() {
        let cases: &[(RouteError, u16, &[u8])] = &[
            (RouteError::NotFound, 404, b"404 page not found\n"),
            (
                RouteError::MethodNotAllowed(vec!["GET", "HEAD", "OPTIONS"]),
                405,
                b"Method Not Allowed\n",
            ),
            (
                RouteError::QuitNeedsPostOrPut,
                405,
                b"Only POST or PUT requests allowed.",
            ),
            (
                RouteError::LifecycleDisabled,
                403,
                b"Lifecycle API is not enabled.",
            ),
            (
                RouteError::Unhealthy("m: x".into()),
                500,
                b"metrics cannot be gathered: m: x\n",
            ),
            (RouteError::Panicked, 500, b"Internal Server Error\n"),
        ];
        for (err, status, body) in cases {
            let resp = err.response();
            assert_eq!((resp.status, err.status()), (*status, (*status).into()));
            assert_eq!(resp.body.to_vec(), *body, "{err:?}");
        }
        let resp = RouteError::MethodNotAllowed(vec!["GET", "HEAD", "OPTIONS"]).response();
        assert_eq!(resp.header("Allow"), Some("GET, HEAD, OPTIONS"));
    }

    #[test]
    fn cleaning_table() {
        let cases = [
            ("/metrics/job/j8/a//b/c", Some("/metrics/job/j8/a/b/c")),
            ("/metrics", None),
            ("/a/./b", Some("/a/b")),
            ("/a/../b", Some("/b")),
            ("/a/b/", None),
            ("/", None),
            ("//", Some("/")),
            ("/a//b?x=1", Some("/a/b?x=1")),
        ];
        for (input, want) in cases {
            assert_eq!(cleaned(input).as_deref(), want, "input {input}");
        }
    }
}

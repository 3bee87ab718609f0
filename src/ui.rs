//! The web UI (`GET P/` and `GET P/status`) and its static assets.
//!
//! One page with two views (metrics, status), rendered on the server from a
//! store snapshot, with each group's family views kept between loads (see
//! `kept`): every name, label value and HELP is HTML-escaped here, and
//! data reaches the script only through data attributes. The CSS and JS are
//! compiled into the binary and served from `P/static/`; nothing is loaded
//! from elsewhere. Deleting and refreshing happen in `ui/functions.js`
//! through the push and admin APIs; this module serves no JSON itself.

mod groups;
mod status;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::go;
use crate::http::{Response, ResponseBody, Status};
use crate::kept::PerGroup;
use crate::store::GroupSnapshot;
use crate::telemetry::{self, BuildInfo};

const FUNCTIONS_JS: &str = include_str!("ui/functions.js");
const STYLE_CSS: &str = include_str!("ui/prometheus.css");

/// Content-Security-Policy of the page: its own script and style sheet,
/// same-origin fetches, nothing inline, no frames, no forms.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Everything the page shows besides the groups.
pub struct PageContext {
    /// What asset and link URLs start with: the external path prefix, or `.`.
    pub base: String,
    /// Whether `PUT api/v1/admin/wipe` exists (shows "Delete All N Groups").
    pub admin_api: bool,
    /// Unix nanoseconds at rendering, for "3 min ago" before the script runs.
    pub now: i64,
    /// Unix nanoseconds when the process started.
    pub start_time: i64,
    pub build: BuildInfo,
    /// Flag names and values as `/api/v1/status` shows them.
    pub flags: Vec<(&'static str, String)>,
}

impl PageContext {
    /// The context for rendering now, for a process started at
    /// `start_time` (Unix nanoseconds) with `config`.
    pub fn new(config: &Config, start_time: i64) -> PageContext {
        PageContext {
            base: asset_base(&config.external_path_prefix()),
            admin_api: config.enable_admin_api,
            now: go::unix_nanos_now(),
            start_time,
            build: telemetry::build_info(),
            flags: config.flag_values(),
        }
    }
}

/// The URL prefix for assets and links: the external path prefix, or `.`
/// (relative to the page) when it is empty (§2.3).
pub fn asset_base(external_path_prefix: &str) -> String {
    if external_path_prefix.is_empty() {
        ".".to_string()
    } else {
        external_path_prefix.to_string()
    }
}

/// `GET P/static/<name>`: an embedded asset or 404.
pub fn asset(name: &str) -> Response {
    let (body, content_type) = match name {
        "functions.js" => (FUNCTIONS_JS, "text/javascript; charset=utf-8"),
        "prometheus.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return Response::not_found(),
    };
    Response::empty(Status::OK)
        .with_header("Content-Type", content_type)
        .with_header("X-Content-Type-Options", "nosniff")
        // Revalidate each time: the files are tiny and must match the
        // page's markup after an upgrade.
        .with_header("Cache-Control", "no-cache")
        .with_body(body.as_bytes().to_vec())
}

/// How long the groups' family views are kept after the last page load:
/// longer than the longest live-refresh interval the page offers (60 s), so
/// that an open page keeps them and a closed one lets them go.
pub const FAMILY_VIEWS_IDLE: Duration = Duration::from_secs(90);

/// `GET P/` and `GET P/status`: the page with both views; the script shows
/// the one the URL names. `kept` holds the groups' family views between
/// loads (see [`FAMILY_VIEWS_IDLE`]).
pub fn page(groups: &[GroupSnapshot], ctx: &PageContext, kept: &PerGroup) -> Response {
    Response::empty(Status::OK)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Content-Security-Policy", CSP)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cache-Control", "no-store")
        .with_body(ResponseBody::Pieces(page_pieces(groups, ctx, kept)))
}

/// The whole page for `groups` (sorted by grouping key, as the store gives
/// them), rendered from scratch.
pub fn render_page(groups: &[GroupSnapshot], ctx: &PageContext) -> String {
    let pieces = page_pieces(groups, ctx, &PerGroup::default());
    String::from_utf8_lossy(&pieces.concat()).into_owned()
}

/// The page in pieces: what is written for this load, with each group's
/// kept family views spliced in between.
fn page_pieces(groups: &[GroupSnapshot], ctx: &PageContext, kept: &PerGroup) -> Vec<Arc<[u8]>> {
    let families = kept.renderings(groups, groups::render_families);
    let base = escape(&ctx.base);
    let mut page = Page::default();
    let html = page.html();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    html.push_str("<meta name=\"color-scheme\" content=\"light dark\">");
    html.push_str("<title>pushgate</title><link rel=\"icon\" href=\"data:,\">");
    html.push_str(&format!(
        "<link rel=\"stylesheet\" href=\"{base}/static/prometheus.css\">\
         <script src=\"{base}/static/functions.js\" defer></script></head>\n"
    ));
    html.push_str(&format!(
        "<body data-now=\"{}\"><header class=\"topbar\"><span class=\"brand\">pushgate</span><nav>\
         <a class=\"tab\" data-view=\"metrics\" href=\"{base}/\">Metrics</a>\
         <a class=\"tab\" data-view=\"status\" href=\"{base}/status\">Status</a></nav></header>\n",
        unix_seconds(ctx.now)
    ));
    groups::render_metrics_view(&mut page, groups, &families, ctx);
    let html = page.html();
    status::render_status_view(html, ctx);
    html.push_str("</body></html>\n");
    page.finish()
}

/// A page as it is written: HTML made for this load, with kept pieces
/// spliced in between, never copied into one buffer.
#[derive(Default)]
struct Page {
    pieces: Vec<Arc<[u8]>>,
    html: String,
}

impl Page {
    /// Where the HTML made for this load goes.
    fn html(&mut self) -> &mut String {
        &mut self.html
    }

    /// Appends a kept piece after what was written so far.
    fn splice(&mut self, kept: &Arc<[u8]>) {
        self.flush();
        self.pieces.push(kept.clone());
    }

    fn flush(&mut self) {
        if !self.html.is_empty() {
            self.pieces.push(Arc::from(self.html.as_bytes()));
            self.html.clear();
        }
    }

    fn finish(mut self) -> Vec<Arc<[u8]>> {
        self.flush();
        self.pieces
    }
}

/// Unix nanoseconds as fractional seconds, the unit the script computes in.
fn unix_seconds(nanos: i64) -> String {
    go::format_float(nanos as f64 / 1e9)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_attr(&mut out, s);
    out
}

/// Appends `s` escaped for a quoted attribute value (all five specials).
fn push_attr(out: &mut String, s: &str) {
    push_escaped(out, s, true);
}

/// Appends `s` escaped for element content. Quotes stay as they are, so a
/// badge reads `job="x"` in the page source too (checklist case 52 greps it).
fn push_text(out: &mut String, s: &str) {
    push_escaped(out, s, false);
}

fn push_escaped(out: &mut String, s: &str, quotes: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::auth::WebAuth;
    use crate::http::{Method, Request};
    use crate::model::{GroupingKey, Label};

    pub(super) fn context() -> PageContext {
        PageContext {
            base: ".".to_string(),
            admin_api: false,
            now: 1_700_000_000_000_000_000,
            start_time: 1_699_999_000_000_000_000,
            build: telemetry::build_info(),
            flags: vec![
                ("log.level", "info".to_string()),
                ("web.route-prefix", String::new()),
            ],
        }
    }

    /// An `App` as `main` builds it, for requests through the real router.
    fn app(config: Config) -> App {
        App::new(config, WebAuth::disabled())
    }

    fn get(app: &App, path: &str) -> (u16, String) {
        let resp = app.handle(&Request::new(Method::Get, path));
        (
            resp.status,
            String::from_utf8_lossy(&resp.body.to_vec()).into_owned(),
        )
    }

    fn put(app: &App, path: &str, body: &str) -> u16 {
        app.handle(&Request::new(Method::Put, path).with_body(body))
            .status
    }

    #[test]
    fn served_page_shows_groups_escaped_with_csp() {
        // Checklist case 52.
        let app = app(Config::default());
        assert_eq!(
            put(&app, "/metrics/job/testjob/instance/testinstance", "m 1\n"),
            200
        );
        assert_eq!(
            put(
                &app,
                "/metrics/job/testjob/instance/testinstance",
                "m 1 1000\n"
            ),
            400
        );
        assert_eq!(put(&app, "/metrics/job@base64/PHNjcmlwdD4=", "x 1\n"), 200);
        let resp = app.handle(&Request::new(Method::Get, "/"));
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(resp.header("Content-Security-Policy"), Some(CSP));
        let html = String::from_utf8_lossy(&resp.body.to_vec()).into_owned();
        assert!(html.contains("job=\"testjob\""));
        assert!(html.contains("Last push failed!"));
        assert!(html.contains("job=\"&lt;script&gt;\""));
        assert!(html.contains("./static/"));
    }

    #[test]
    fn external_url_prefixes_assets_and_links() {
        // Checklist case 50.
        let app = app(Config {
            external_url: "http://example.com/pg/".to_string(),
            ..Config::default()
        });
        let (status, html) = get(&app, "/pg/");
        assert_eq!(status, 200);
        assert!(html.contains("src=\"/pg/static/functions.js\""));
        assert!(html.contains("href=\"/pg/status\""));
        assert_eq!(get(&app, "/pg/status").0, 200);
        assert_eq!(get(&app, "/pg/static/prometheus.css").0, 200);
    }

    #[test]
    fn route_prefix_serves_assets_relative_to_the_page() {
        // Checklist case 51: without an external URL the page uses `.`.
        let app = app(Config {
            route_prefix_flag: "/route-prefix".to_string(),
            ..Config::default()
        });
        let (status, html) = get(&app, "/route-prefix/");
        assert_eq!(status, 200);
        assert!(html.contains("src=\"./static/functions.js\""));
        assert_eq!(get(&app, "/route-prefix/static/functions.js").0, 200);
        assert_eq!(get(&app, "/route-prefix/static/missing.js").0, 404);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }

    #[test]
    fn text_escaping_keeps_quotes() {
        let mut out = String::new();
        push_text(&mut out, "<b>\"x\"&");
        assert_eq!(out, "&lt;b&gt;\"x\"&amp;");
    }

    #[test]
    fn assets_exist_with_their_types() {
        let js = asset("functions.js");
        assert_eq!(js.status, 200);
        assert_eq!(
            js.header("Content-Type"),
            Some("text/javascript; charset=utf-8")
        );
        let css = asset("prometheus.css");
        assert_eq!(css.status, 200);
        assert_eq!(css.header("Content-Type"), Some("text/css; charset=utf-8"));
    }

    #[test]
    fn unknown_asset_is_404() {
        for name in ["missing.js", "", "../ui.rs", "index.html"] {
            assert_eq!(asset(name).status, 404, "asset {name:?}");
        }
    }

    #[test]
    fn assets_stay_small() {
        assert!(FUNCTIONS_JS.len() + STYLE_CSS.len() < 40 * 1024);
    }

    #[test]
    fn asset_base_is_dot_without_prefix() {
        assert_eq!(asset_base(""), ".");
        assert_eq!(asset_base("/pg"), "/pg");
    }

    #[test]
    fn page_references_assets_under_the_base() {
        let html = render_page(&[], &context());
        assert!(html.contains("href=\"./static/prometheus.css\""));
        assert!(html.contains("src=\"./static/functions.js\""));
        let ctx = PageContext {
            base: "/pg".to_string(),
            ..context()
        };
        let html = render_page(&[], &ctx);
        assert!(html.contains("src=\"/pg/static/functions.js\""));
        assert!(html.contains("href=\"/pg/status\""));
    }

    #[test]
    fn page_has_no_inline_script_or_style() {
        let group = GroupSnapshot {
            key: GroupingKey::new([Label::new("job", "j")]),
            families: Vec::new(),
            ttl: None,
            expires_at: None,
        };
        let html = render_page(&[group], &context());
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("<script>"));
        assert!(!html.contains(" style="));
        assert!(!html.contains("<style"));
        for handler in ["onclick", "onload", "onerror", "javascript:"] {
            assert!(!html.contains(handler), "inline handler {handler}");
        }
    }

    /// The page served with kept family views equals the page rendered
    /// from scratch after every step of a fixed sequence of PUT, POST and
    /// DELETE on a few groups, and keeps exactly the stored groups.
    #[test]
    fn kept_family_views_equal_a_full_render() {
        use crate::model::NameValidation;
        use crate::store::{CheckMode, Store};

        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let kept = PerGroup::default();
        let ctx = context();
        crate::testutil::random_writes(&store, 0x2545_f491_4f6c_dd1d, 200, |step| {
            let groups = store.groups();
            let served = page(&groups, &ctx, &kept).body.to_vec();
            assert_eq!(
                String::from_utf8_lossy(&served),
                render_page(&groups, &ctx),
                "step {step}"
            );
            assert_eq!(kept.len(), groups.len(), "step {step}");
        });
    }

    #[test]
    fn page_carries_a_strict_csp() {
        assert!(CSP.contains("script-src 'self'"));
        assert!(!CSP.contains("unsafe"));
    }
}

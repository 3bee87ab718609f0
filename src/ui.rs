//! The status page (`GET /` and `/status`) and its static assets.
//!
//! The page is rendered on the server from a store snapshot; every label,
//! name and HELP is HTML-escaped, and assets are compiled into the binary
//! (no CDN, no external fonts), referenced relative to the external path
//! prefix so the page works behind `--web.external-url`.

use std::fmt::Write as _;

use crate::gofmt;
use crate::http::Response;
use crate::model::JOB_LABEL;
use crate::router::App;

const FUNCTIONS_JS: &str = include_str!("ui/functions.js");
const STYLE_CSS: &str = include_str!("ui/prometheus.css");

/// Content-Security-Policy of the page: nothing but its own assets.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /static/<name>`: an embedded asset or 404.
pub fn asset(name: &str) -> Response {
    let (body, content_type) = match name {
        "functions.js" => (FUNCTIONS_JS, "application/javascript; charset=utf-8"),
        "prometheus.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return Response::not_found(),
    };
    Response::empty(200)
        .with_header("Content-Type", content_type)
        .with_header("Cache-Control", "public, max-age=3600")
        .with_body(body.as_bytes().to_vec())
}

/// `GET /` and `GET /status`: the metrics and status views.
pub fn page(app: &App) -> Response {
    let base = match app.config.external_path_prefix() {
        p if p.is_empty() => ".".to_string(),
        p => p,
    };
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pushgate</title>\
         <link rel=\"stylesheet\" href=\"{base}/static/prometheus.css\">\
         <script src=\"{base}/static/functions.js\" defer></script></head><body>\
         <header><h1>pushgate</h1></header><main id=\"metrics\">",
        base = escape(&base)
    );
    for group in app.store.groups() {
        html.push_str("<section class=\"group\"><h2>");
        let labels = group.key.labels();
        let job_first = labels
            .iter()
            .filter(|l| l.name == JOB_LABEL)
            .chain(labels.iter().filter(|l| l.name != JOB_LABEL));
        for l in job_first {
            let _ = write!(
                html,
                "<span class=\"badge\">{}=\"{}\"</span> ",
                escape(&l.name),
                escape(&l.value)
            );
        }
        if !group.last_push_successful() {
            html.push_str("<span class=\"badge failed\">Last push failed!</span>");
        }
        html.push_str("</h2><ul>");
        for f in &group.families {
            let _ = write!(
                html,
                "<li><b>{}</b> {} — {} — last pushed: {}</li>",
                escape(&f.family.name),
                f.family.kind.text_name(),
                escape(f.family.help.as_deref().unwrap_or("")),
                gofmt::rfc3339_seconds(f.written_at)
            );
        }
        html.push_str("</ul></section>");
    }
    html.push_str("</main></body></html>");
    Response::empty(200)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Content-Security-Policy", CSP)
        .with_body(html.into_bytes())
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }

    #[test]
    fn assets_exist_and_unknown_is_404() {
        assert_eq!(asset("functions.js").status, 200);
        assert_eq!(asset("prometheus.css").status, 200);
        assert_eq!(asset("missing.js").status, 404);
    }
}

//! The status view: start time, build information and startup flags, the
//! same facts `/api/v1/status` serves, as sorted tables.

use super::groups::age_text;
use super::{push_text, PageContext};
use crate::go;

pub(super) fn render_status_view(html: &mut String, ctx: &PageContext) {
    html.push_str(
        "<main class=\"view\" id=\"status-view\"><section class=\"panel\"><h2>Started</h2><p>",
    );
    let stamp = go::rfc3339_nanos(ctx.start_time);
    html.push_str(&format!(
        "<time datetime=\"{stamp}\">{stamp}</time> (<span class=\"ago\" data-t=\"{}\">{}</span>)</p></section>",
        go::format_float(ctx.start_time as f64 / 1e9),
        age_text((ctx.now - ctx.start_time) as f64 / 1e9)
    ));
    let mut build = ctx.build.key_values();
    push_table(html, "Build information", &mut build);
    let mut flags = ctx.flags.clone();
    push_table(html, "Startup flags", &mut flags);
    html.push_str("</main>\n");
}

/// A titled two-column table, rows sorted bytewise by key.
fn push_table(html: &mut String, title: &str, rows: &mut [(&str, String)]) {
    rows.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    html.push_str("<section class=\"panel\"><h2>");
    push_text(html, title);
    html.push_str("</h2><table class=\"kv status\">");
    for (key, value) in rows.iter() {
        html.push_str("<tr><th>");
        push_text(html, key);
        html.push_str("</th><td>");
        push_text(html, value);
        html.push_str("</td></tr>");
    }
    html.push_str("</table></section>");
}

#[cfg(test)]
mod tests {
    use crate::ui::tests::context;
    use crate::ui::{render_page, PageContext};

    #[test]
    fn shows_start_time_and_age() {
        let html = render_page(&[], &context());
        assert!(
            html.contains("<time datetime=\"2023-11-14T21:56:40Z\">2023-11-14T21:56:40Z</time>")
        );
        assert!(html.contains(">16 min ago<"));
    }

    #[test]
    fn build_information_sorted_by_key() {
        let html = render_page(&[], &context());
        let keys = [
            "branch",
            "buildDate",
            "buildUser",
            "goVersion",
            "revision",
            "version",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| html.find(&format!("<th>{k}</th>")).expect(k))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert!(html.contains(&format!(
            "<th>version</th><td>{}</td>",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn flags_sorted_and_escaped() {
        let ctx = PageContext {
            flags: vec![
                ("z.flag", "<x>".to_string()),
                ("a.flag", "1h0m0s".to_string()),
            ],
            ..context()
        };
        let html = render_page(&[], &ctx);
        let a = html
            .find("<th>a.flag</th><td>1h0m0s</td>")
            .expect("a.flag row");
        let z = html
            .find("<th>z.flag</th><td>&lt;x&gt;</td>")
            .expect("z.flag row");
        assert!(a < z);
    }
}

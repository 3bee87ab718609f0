//! The JSON API (§8; checklist cases 43 and 45–48; the golden protobuf
//! case 44 is in `proto_bodies`).

use crate::util::{self, assert_empty, assert_text_error, Gateway, Resp};

const EMPTY_API: &str = r#"{"status":"success","data":[]}"#;

const CORS_HEADERS: [(&str, &str); 5] = [
    (
        "Access-Control-Allow-Headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Date"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
];

#[track_caller]
fn assert_cors(resp: &Resp) {
    for (name, value) in CORS_HEADERS {
        assert_eq!(resp.header(name), Some(value), "{name}");
    }
}

// Case 43.
#[test]
fn case_43_empty_store_is_empty_array() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/api/v1/metrics");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_cors(&resp);
    assert_eq!(resp.text(), EMPTY_API);
}

/// The string value of `"key":"..."` in compact JSON (no escapes inside).
fn json_string_field<'a>(json: &'a str, key: &str) -> &'a str {
    let marker = format!("\"{key}\":\"");
    let start = json
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + marker.len();
    let len = json[start..].find('"').expect("closing quote");
    &json[start..start + len]
}

/// True if `s` is RFC 3339 with an optional fraction of 1–9 digits and a
/// `Z` or `±hh:mm` zone.
fn is_rfc3339(s: &str) -> bool {
    let digits_at = |range: std::ops::Range<usize>| {
        s.get(range)
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    let date_time_ok = s.len() >= 20
        && digits_at(0..4)
        && &s[4..5] == "-"
        && digits_at(5..7)
        && &s[7..8] == "-"
        && digits_at(8..10)
        && &s[10..11] == "T"
        && digits_at(11..13)
        && &s[13..14] == ":"
        && digits_at(14..16)
        && &s[16..17] == ":"
        && digits_at(17..19);
    if !date_time_ok {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        rest = &fraction[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":")
}

// Case 45.
#[test]
fn case_45_status_flags_build_information_and_start_time() {
    let gw = Gateway::start(&[]);
    let resp = gw.get("/api/v1/status");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_cors(&resp);
    let json = resp.text();
    assert!(
        json.starts_with(r#"{"status":"success","data":{"build_information":{"#),
        "{json}"
    );
    // The flag value as given: pushgate binds port 0, upstream a fixed port.
    let listen = if util::upstream() {
        gw.addr().to_string()
    } else {
        "127.0.0.1:0".to_string()
    };
    for flag in [
        r#""persistence.interval":"5m0s""#.to_string(),
        format!(r#""web.listen-address":"{listen}""#),
        r#""web.enable-admin-api":"false""#.to_string(),
        r#""web.telemetry-path":"/metrics""#.to_string(),
    ] {
        assert!(json.contains(&flag), "missing {flag} in {json}");
    }
    for key in [
        "branch",
        "buildDate",
        "buildUser",
        "goVersion",
        "revision",
        "version",
    ] {
        assert!(
            json.contains(&format!("\"{key}\":\"")),
            "missing {key} in {json}"
        );
    }
    let start_time = json_string_field(&json, "start_time");
    assert!(is_rfc3339(start_time), "start_time {start_time:?}");
    // pushgate: UTC; upstream uses the local zone.
    if !util::upstream() {
        assert!(start_time.ends_with('Z'), "start_time {start_time:?}");
    }
}

// Case 46: OPTIONS anywhere below /api/v1/.
#[test]
fn case_46_options_has_cors_headers() {
    let gw = Gateway::start(&[]);
    let resp = gw.request("OPTIONS", "/api/v1/anything", &[], b"");
    assert_empty(&resp, 200);
    assert_cors(&resp);
}

// Case 46: wrong method on a known API path.
#[test]
fn case_46_wrong_method_on_api_is_405() {
    let gw = Gateway::start(&[]);
    let resp = gw.post("/api/v1/status", b"");
    assert_text_error(&resp, 405, "Method Not Allowed");
    // pushgate adds HEAD wherever GET exists (§2.2).
    let allow = if util::upstream() {
        "GET, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    assert_eq!(resp.header("Allow"), Some(allow));
}

// Case 47 (pushgate: groups sorted by grouping key; upstream order is random).
#[test]
fn case_47_groups_sorted_by_grouping_key() {
    if util::skip_on_upstream(
        "pushgate only: API groups sorted by grouping key, upstream order is random (spec §8.3)",
    ) {
        return;
    }
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/a", b"m 1\n"), 200);
    assert_empty(&gw.put("/metrics/job/a/instance/x", b"m 2\n"), 200);
    let json = gw.api_metrics();
    let first = r#"{"status":"success","data":[{"labels":{"instance":"x","job":"a"},"#;
    assert!(json.starts_with(first), "{json}");
    assert!(json.contains(r#"},{"labels":{"job":"a"},"#), "{json}");
}

// Case 48: wipe with --web.enable-admin-api.
#[test]
fn case_48_wipe_removes_every_group() {
    let gw = Gateway::start(&["--web.enable-admin-api"]);
    for path in [
        "/metrics/job/w1",
        "/metrics/job/w2",
        "/metrics/job/w3/instance/i",
    ] {
        assert_empty(&gw.put(path, b"m 1\n"), 200);
    }
    assert_ne!(gw.api_metrics(), EMPTY_API);
    let resp = gw.put("/api/v1/admin/wipe", b"");
    assert_empty(&resp, 202);
    // §5.9: no CORS headers on wipe.
    assert_eq!(resp.header("Access-Control-Allow-Origin"), None);
    gw.wait_for_api(EMPTY_API);
    gw.wait_for_lines(&[]);
}

// Case 48: without the flag the route does not exist.
#[test]
fn case_48_wipe_without_flag_is_404() {
    let gw = Gateway::start(&[]);
    assert_empty(&gw.put("/metrics/job/w1", b"m 1\n"), 200);
    assert_text_error(
        &gw.put("/api/v1/admin/wipe", b""),
        404,
        "404 page not found",
    );
    assert_ne!(gw.api_metrics(), EMPTY_API);
}

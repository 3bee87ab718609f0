//! One shard as `pushgate shards` sees it: reading its groups and status
//! through the JSON API, and the requests that change it (delete one group
//! by its `@base64` push path, bulk delete, wipe).
//!
//! Knows the API's JSON shapes; knows nothing of other shards.

use std::fmt;
use std::time::Duration;

use base64::Engine;

use super::json::{self, Value};
use crate::client::{self, BaseUrl, ClientError, Limits, Reply};
use crate::model::{is_legacy_label_name, GroupingKey, Label, JOB_LABEL};

/// Largest API answer read from a shard (`/api/v1/metrics` is about 85 bytes
/// per series).
pub const MAX_ANSWER_BYTES: usize = 1 << 30;

/// The members of a group in `/api/v1/metrics` that `pushgate shards` reads.
const GROUP_MEMBERS_READ: [&str; 3] = ["labels", "push_time_seconds", "push_failure_time_seconds"];

/// One copy of a group on a shard.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupCopy {
    pub key: GroupingKey,
    /// `push_time_seconds`, 0 if the group never had a successful push.
    pub push_time: f64,
    /// `push_failure_time_seconds`, 0 if no push failed.
    pub failure_time: f64,
}

/// A shard's address and the timeout of each request to it.
#[derive(Clone, Debug)]
pub struct Shard {
    pub url: BaseUrl,
    pub timeout: Duration,
}

/// Why a request to a shard failed.
#[derive(Debug)]
pub enum ShardError {
    Unreachable(ClientError),
    Status { what: String, reply: Reply },
    Answer(String),
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::Unreachable(e) => write!(f, "unreachable: {}", e),
            ShardError::Status { what, reply } => {
                write!(f, "{} answered {}", what, reply.status)?;
                let text = reply.short_body();
                if !text.is_empty() {
                    write!(f, ": {}", text)?;
                }
                if reply.status == 404 && what.contains("/api/v1/") {
                    f.write_str(" (is --web.enable-admin-api set on this shard?)")?;
                }
                Ok(())
            }
            ShardError::Answer(e) => write!(f, "unexpected answer: {}", e),
        }
    }
}

impl Shard {
    fn call(&self, method: &str, path: &str, expect: &[u16]) -> Result<Reply, ShardError> {
        let limits = Limits {
            timeout: self.timeout,
            max_body: MAX_ANSWER_BYTES,
        };
        let reply = client::request(&self.url, method, path, b"", limits)
            .map_err(ShardError::Unreachable)?;
        if !expect.contains(&reply.status) {
            return Err(ShardError::Status {
                what: format!("{} {}", method, path),
                reply,
            });
        }
        Ok(reply)
    }

    fn api_data(
        &self,
        path: &str,
        keep: &dyn Fn(usize, &str) -> bool,
    ) -> Result<Value, ShardError> {
        let reply = self.call("GET", path, &[200])?;
        let doc = json::parse_keeping(&reply.body, keep)
            .map_err(|e| ShardError::Answer(format!("GET {}: {}", path, e)))?;
        if doc.get("status").and_then(Value::as_str) != Some("success") {
            return Err(ShardError::Answer(format!(
                "GET {}: status is not success",
                path
            )));
        }
        doc.get("data")
            .cloned()
            .ok_or_else(|| ShardError::Answer(format!("GET {}: no data", path)))
    }

    /// `GET /api/v1/status`: the start time (which tells two processes
    /// apart) and whether the admin API is enabled.
    pub fn status(&self) -> Result<ShardStatus, ShardError> {
        let data = self.api_data("/api/v1/status", &|_, _| true)?;
        let start_time = data
            .get("start_time")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let admin_api = data
            .get("flags")
            .and_then(|f| f.get("web.enable-admin-api"))
            .and_then(Value::as_str)
            == Some("true");
        Ok(ShardStatus {
            start_time,
            admin_api,
        })
    }

    /// Every group on the shard, from `GET /api/v1/metrics`.
    pub fn groups(&self) -> Result<Vec<GroupCopy>, ShardError> {
        // Of each group (an object at depth 2) only what a placement needs;
        // the families are dropped as they are read.
        let data = self.api_data("/api/v1/metrics", &|depth, name| {
            depth != 2 || GROUP_MEMBERS_READ.contains(&name)
        })?;
        groups_from_api(&data).map_err(ShardError::Answer)
    }

    /// Deletes one group through the push API, every segment `@base64`.
    pub fn delete_group(&self, key: &GroupingKey) -> Result<(), ShardError> {
        let path = delete_path(key).map_err(ShardError::Answer)?;
        self.call("DELETE", &path, &[202, 200]).map(|_| ())
    }

    /// `DELETE /api/v1/groups?match[]=…`; returns how many were deleted.
    pub fn delete_matching(&self, selectors: &[String]) -> Result<u64, ShardError> {
        let query: Vec<String> = selectors
            .iter()
            .map(|s| format!("match[]={}", query_escape(s)))
            .collect();
        let path = format!("/api/v1/groups?{}", query.join("&"));
        let reply = self.call("DELETE", &path, &[200])?;
        let doc = json::parse(&reply.body)
            .map_err(|e| ShardError::Answer(format!("DELETE /api/v1/groups: {}", e)))?;
        doc.get("data")
            .and_then(|d| d.get("deleted"))
            .and_then(|n| match n {
                Value::Number(t) => t.parse().ok(),
                _ => None,
            })
            .ok_or_else(|| ShardError::Answer("DELETE /api/v1/groups: no deleted count".into()))
    }

    /// `PUT /api/v1/admin/wipe`.
    pub fn wipe(&self) -> Result<(), ShardError> {
        self.call("PUT", "/api/v1/admin/wipe", &[202, 200])
            .map(|_| ())
    }
}

/// What `/api/v1/status` tells about a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardStatus {
    pub start_time: String,
    pub admin_api: bool,
}

/// The groups in the `data` of `/api/v1/metrics`.
pub fn groups_from_api(data: &Value) -> Result<Vec<GroupCopy>, String> {
    let groups = data.as_array().ok_or("data is not an array")?;
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let labels = g
            .get("labels")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("group {} has no labels", i))?;
        let mut key = Vec::with_capacity(labels.len());
        for (name, value) in labels {
            let value = value
                .as_str()
                .ok_or_else(|| format!("group {}: label {} is not a string", i, name))?;
            key.push(Label::new(name.clone(), value.to_string()));
        }
        out.push(GroupCopy {
            key: GroupingKey::new(key),
            push_time: gauge_value(g, "push_time_seconds"),
            failure_time: gauge_value(g, "push_failure_time_seconds"),
        });
    }
    Ok(out)
}

/// The value of a group's one-series gauge family, 0 if absent.
fn gauge_value(group: &Value, family: &str) -> f64 {
    group
        .get(family)
        .and_then(|f| f.get("metrics"))
        .and_then(Value::as_array)
        .and_then(|m| m.first())
        .and_then(|m| m.get("value"))
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `/metrics/job@base64/<job>{/<name>@base64/<value>}` for `key`: every
/// value base64url (`=` for an empty one), so any value survives the path.
/// Names that are not legacy names are written `U__` escaped (they exist
/// only on shards with `--push.enable-utf8-names`, which undo it).
pub fn delete_path(key: &GroupingKey) -> Result<String, String> {
    let job = key
        .get(JOB_LABEL)
        .ok_or_else(|| format!("group {} has no job label", key))?;
    let mut path = format!("/metrics/job@base64/{}", b64(job));
    for l in key.labels().iter().filter(|l| l.name != JOB_LABEL) {
        path.push('/');
        path.push_str(&escaped_name(&l.name));
        path.push_str("@base64/");
        path.push_str(&b64(&l.value));
    }
    Ok(path)
}

fn b64(value: &str) -> String {
    if value.is_empty() {
        return "=".to_string();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
}

/// A label name as a path segment: as is if legacy, else `U__` escaped
/// (`foo.bar` → `U__foo_2e_bar`), the escaping the push path undoes.
fn escaped_name(name: &str) -> String {
    if is_legacy_label_name(name) {
        return name.to_string();
    }
    let mut out = String::from("U__");
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("_{:x}_", c as u32)),
        }
    }
    out
}

/// Percent-escapes a query value: everything but unreserved characters.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NameValidation;
    use crate::push::grouping_key_from_path;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::new(pairs.iter().map(|(n, v)| Label::new(*n, *v)))
    }

    #[test]
    fn delete_paths_round_trip_through_the_push_parser() {
        let keys = [
            key(&[("job", "j")]),
            key(&[("job", "a/b"), ("instance", ""), ("x", "%2F ü?#")]),
            key(&[("job", "=="), ("zone", "é")]),
        ];
        for k in keys {
            let path = delete_path(&k).unwrap();
            let rest = path.strip_prefix("/metrics/job@base64").unwrap();
            let back = grouping_key_from_path(rest.as_bytes(), true, NameValidation::Legacy);
            assert_eq!(back, Ok(k.clone()), "{path}");
        }
        let utf8 = key(&[("job", "j"), ("foo.bar_baz", "v")]);
        let path = delete_path(&utf8).unwrap();
        assert_eq!(path, "/metrics/job@base64/ag/U__foo_2e_bar__baz@base64/dg");
        let rest = path.strip_prefix("/metrics/job@base64").unwrap();
        let back = grouping_key_from_path(rest.as_bytes(), true, NameValidation::Utf8);
        assert_eq!(back, Ok(utf8));
        assert!(delete_path(&key(&[("instance", "i")])).is_err());
    }

    #[test]
    fn groups_and_push_times_from_the_api() {
        let doc = br#"[{"labels":{"job":"a","instance":"i"},"last_push_successful":true,
            "push_failure_time_seconds":{"metrics":[{"labels":{},"value":"0"}]},
            "push_time_seconds":{"time_stamp":"x","type":"GAUGE","metrics":[{"labels":{"job":"a"},"value":"1.7000000001e+09"}]},
            "some_metric":{"metrics":[{"labels":{},"value":"3"}]}},
            {"labels":{"job":"b"},"push_failure_time_seconds":{"metrics":[{"value":"12.5"}]}}]"#;
        let groups = groups_from_api(&json::parse(doc).unwrap()).unwrap();
        assert_eq!(
            groups,
            vec![
                GroupCopy {
                    key: key(&[("instance", "i"), ("job", "a")]),
                    push_time: 1_700_000_000.1,
                    failure_time: 0.0
                },
                GroupCopy {
                    key: key(&[("job", "b")]),
                    push_time: 0.0,
                    failure_time: 12.5
                },
            ]
        );
        for bad in [&br#"{}"#[..], br#"[{"x":1}]"#, br#"[{"labels":{"job":1}}]"#] {
            assert!(groups_from_api(&json::parse(bad).unwrap()).is_err());
        }
    }

    #[test]
    fn selectors_are_escaped_for_the_query() {
        assert_eq!(
            query_escape(r#"{job="a b",x="&"}"#),
            "%7Bjob%3D%22a%20b%22%2Cx%3D%22%26%22%7D"
        );
    }
}

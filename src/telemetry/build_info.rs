//! Build information: the `pushgateway_build_info` family and the
//! `build_information` of `/api/v1/status` and the status page, from the
//! variables `build.rs` sets, with Go's names for the platform.

use super::{metric, new_family, BUILD_INFO};
use crate::model::{Label, MetricFamily, Value};

/// Build information for `pushgateway_build_info` and `/api/v1/status`.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
    pub build_user: &'static str,
    pub build_date: &'static str,
    /// e.g. `rust1.95.0`, reported as `goVersion`/`goversion`.
    pub rust_version: &'static str,
}

/// A variable set by `build.rs`, or `unknown` if the build ran without it.
macro_rules! build_env {
    ($name:literal) => {
        match option_env!($name) {
            Some(value) => value,
            None => "unknown",
        }
    };
}

impl BuildInfo {
    /// The six keys of upstream's `build_information` (API and status page),
    /// named as upstream's Go map and sorted.
    pub fn key_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("branch", self.branch.to_string()),
            ("buildDate", self.build_date.to_string()),
            ("buildUser", self.build_user.to_string()),
            ("goVersion", self.rust_version.to_string()),
            ("revision", self.revision.to_string()),
            ("version", self.version.to_string()),
        ]
    }
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: build_env!("PUSHGATE_BUILD_REVISION"),
        branch: build_env!("PUSHGATE_BUILD_BRANCH"),
        build_user: build_env!("PUSHGATE_BUILD_USER"),
        build_date: build_env!("PUSHGATE_BUILD_DATE"),
        rust_version: build_env!("PUSHGATE_BUILD_RUST_VERSION"),
    }
}

/// Enabled cargo features joined by `,`, or `unknown` (the `tags` label).
pub fn build_tags() -> &'static str {
    build_env!("PUSHGATE_BUILD_TAGS")
}

/// The target architecture under Go's name, so dashboards filtering on
/// `goarch` keep working.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The target OS under Go's name.
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `pushgateway_build_info`: 1, labelled with the build and platform.
pub(super) fn build_info_family() -> MetricFamily {
    let info = build_info();
    let mut family = new_family(BUILD_INFO);
    family.metrics.push(metric(
        vec![
            Label::new("branch", info.branch),
            Label::new("goarch", go_arch()),
            Label::new("goos", go_os()),
            Label::new("goversion", info.rust_version),
            Label::new("revision", info.revision),
            Label::new("tags", build_tags()),
            Label::new("version", info.version),
        ],
        Value::Gauge(1.0),
    ));
    family
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{own_family, StoreUsage, Telemetry};

    fn find<'a>(families: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        families.iter().find(|f| f.name == name)
    }

    #[test]
    fn build_info_is_one_with_sorted_labels() {
        let families = Telemetry::new().families(&StoreUsage::default());
        let family = find(&families, BUILD_INFO).expect("build info");
        assert_eq!(
            family.help.as_deref(),
            own_family(BUILD_INFO).map(|f| f.help)
        );
        let metric = &family.metrics[0];
        assert_eq!(metric.value, Value::Gauge(1.0));
        let names: Vec<&str> = metric.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "branch",
                "goarch",
                "goos",
                "goversion",
                "revision",
                "tags",
                "version"
            ]
        );
        let version = metric.labels.iter().find(|l| l.name == "version");
        assert_eq!(
            version.map(|l| l.value.as_str()),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(build_info().rust_version.starts_with("rust"));
    }

    #[test]
    fn go_arch_uses_go_names() {
        let want = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        assert_eq!(go_arch(), want);
        assert_eq!(go_os(), "linux");
    }
}

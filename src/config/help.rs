//! The texts the command line can ask for instead of running: `--help`,
//! `--help-man` and `--version`. Both help texts are made from the flag
//! table, with defaults from [`Config::default`].

use super::flags::{Kind, FLAGS};
use super::Config;
use crate::telemetry;

/// The `--help` text; defaults come from [`Config::default`] so they cannot
/// drift from the values actually used.
pub(super) fn help_text() -> String {
    let defaults = Config::default();
    let mut out = String::from(
        "usage: pushgate [<flags>]\n\n\
         pushgate accepts metrics pushed by batch jobs over HTTP and exposes them\n\
         for Prometheus to scrape. It is a drop-in replacement for the Prometheus\n\
         Pushgateway: same URLs, flags, status codes and exposition.\n\
         Flags marked [pushgate] do not exist upstream.\n\n\
         Commands:\n  \
         pushgate import UPSTREAM_FILE [OUT]\n      \
         List the groups in upstream Pushgateway's persistence file; with OUT,\n      \
         also write them to OUT in pushgate's format. (An upstream file named\n      \
         by the persistence flag is imported at start anyway.)\n  \
         pushgate healthcheck [--url URL]\n      \
         Exit 0 if the gateway answers its health URL (container health checks).\n\n\
         Flags:\n",
    );
    out.push_str("  -h, --help\n      Show this help and exit.\n");
    out.push_str("  --version\n      Show version information and exit.\n");
    for spec in FLAGS {
        let default = (spec.show)(&defaults);
        let usage = match spec.kind {
            Kind::Bool(_) => format!("--[no-]{}  (default {})", spec.name(), default),
            _ => format!("{}={:?}", spec.flag, default),
        };
        let marker = if spec.pushgate_only {
            "[pushgate] "
        } else {
            ""
        };
        out.push_str(&format!("  {}\n      {}{}\n", usage, marker, spec.help));
    }
    out
}

/// `--help-man`: the help as a man(7) page, as kingpin prints it.
pub(super) fn man_text() -> String {
    let defaults = Config::default();
    let escape = |s: &str| s.replace('\\', "\\e").replace('-', "\\-");
    let mut out = format!(
        ".TH pushgate 1 \"{}\"\n.SH \"NAME\"\npushgate\n.SH \"SYNOPSIS\"\n.TP\n\\fBpushgate [<flags>]\\fR\n\
         .SH \"DESCRIPTION\"\nA drop-in replacement for the Prometheus Pushgateway.\n.SH \"OPTIONS\"\n",
        escape(&version_text().lines().next().unwrap_or("").replace('"', "'"))
    );
    out.push_str(
        ".TP\n\\fB\\-h, \\-\\-help\\fR\nShow help (also \\-\\-help\\-long and \\-\\-help\\-man).\n",
    );
    out.push_str(".TP\n\\fB\\-\\-version\\fR\nShow version information and exit.\n");
    for spec in FLAGS {
        let default = (spec.show)(&defaults);
        let usage = match spec.kind {
            Kind::Bool(_) => spec.flag.to_string(),
            _ => format!("{}={:?}", spec.flag, default),
        };
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(&usage),
            escape(spec.help)
        ));
    }
    out
}

/// The `--version` text in upstream's (Prometheus `version.Print`) layout.
pub(super) fn version_text() -> String {
    let info = telemetry::build_info();
    format!(
        "pushgate, version {} (branch: {}, revision: {})\n  \
         build user:       {}\n  \
         build date:       {}\n  \
         go version:       {}\n  \
         platform:         {}/{}\n",
        info.version,
        info.branch,
        info.revision,
        info.build_user,
        info.build_date,
        info.rust_version,
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH),
    )
}

/// Go's name for a CPU architecture, which scripts parsing `--version` expect.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_architecture_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("riscv64"), "riscv64");
    }
}

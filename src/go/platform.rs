//! Go's names for operating systems and CPU architectures (`GOOS`,
//! `GOARCH`), which `--version` and the `pushgateway_build_info` labels
//! show so that scripts and dashboards written for upstream keep working.

/// Go's name for a Rust `target_arch` (`std::env::consts::ARCH`);
/// `little_endian` tells `ppc64le` from `ppc64`. Names Go shares with Rust
/// pass through.
pub fn arch_name(rust_arch: &str, little_endian: bool) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if little_endian => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Go's name for a Rust `target_os` (`std::env::consts::OS`).
pub fn os_name(rust_os: &str) -> &str {
    match rust_os {
        "macos" => "darwin",
        other => other,
    }
}

/// The architecture this binary was built for, under Go's name.
pub fn arch() -> &'static str {
    arch_name(std::env::consts::ARCH, cfg!(target_endian = "little"))
}

/// The operating system this binary was built for, under Go's name.
pub fn os() -> &'static str {
    os_name(std::env::consts::OS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        assert_eq!(arch_name("x86_64", true), "amd64");
        assert_eq!(arch_name("x86", true), "386");
        assert_eq!(arch_name("aarch64", true), "arm64");
        assert_eq!(arch_name("powerpc64", true), "ppc64le");
        assert_eq!(arch_name("powerpc64", false), "ppc64");
        assert_eq!(arch_name("loongarch64", true), "loong64");
        assert_eq!(arch_name("riscv64", true), "riscv64");
        assert_eq!(os_name("macos"), "darwin");
        assert_eq!(os_name("linux"), "linux");
    }

    #[test]
    fn go_arch_uses_go_names() {
        let want = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        assert_eq!(arch(), want);
        assert_eq!(os(), "linux");
    }
}

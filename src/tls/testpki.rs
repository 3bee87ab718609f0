//! The test PKI for unit tests: scripts/test/make-certs.sh (openssl) run
//! once per test process into a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The directory holding ca.crt, server.crt/key, client-a.crt/key... (see
/// the script's header).
pub fn pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pushgate-tls-unit-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test/make-certs.sh");
        let status = std::process::Command::new(script)
            .arg(&dir)
            .status()
            .expect("run scripts/test/make-certs.sh (needs openssl)");
        assert!(status.success(), "make-certs.sh failed");
        dir
    })
}

//! Go's names for cipher suites and curves (as the exporter-toolkit's
//! `cipher_suites` and `curve_preferences` take them), mapped to the rustls
//! ring provider's; names it does not have are refused by name.

use rustls::crypto::ring::{cipher_suite as cs, kx_group};
use rustls::crypto::SupportedKxGroup;
use rustls::SupportedCipherSuite;

/// TLS 1.2 suites: Go name (and Go's older alias) → rustls suite.
const TLS12_SUITES: &[(&str, &str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.3 suites: Go always enables all of them and ignores these names in
/// `CipherSuites`; so does pushgate.
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

const CURVES: &[(&str, &dyn SupportedKxGroup)] = &[
    ("X25519", kx_group::X25519),
    ("CurveP256", kx_group::SECP256R1),
    ("CurveP384", kx_group::SECP384R1),
];

/// The TLS 1.2 suite with Go name `name`; `Ok(None)` for a TLS 1.3 suite
/// (always on); an error naming the suite for anything else.
pub fn cipher_suite(name: &str) -> Result<Option<SupportedCipherSuite>, String> {
    if TLS13_SUITES.contains(&name) {
        return Ok(None);
    }
    TLS12_SUITES
        .iter()
        .find(|(go, alias, _)| *go == name || (!alias.is_empty() && *alias == name))
        .map(|(_, _, suite)| Some(*suite))
        .ok_or_else(|| {
            let known: Vec<&str> = TLS12_SUITES
                .iter()
                .map(|(go, _, _)| *go)
                .chain(TLS13_SUITES.iter().copied())
                .collect();
            format!(
                "cipher suite {name} is not supported by pushgate (supported: {})",
                known.join(", ")
            )
        })
}

/// The key exchange group with Go curve name `name`.
pub fn kx_group(name: &str) -> Result<&'static dyn SupportedKxGroup, String> {
    CURVES
        .iter()
        .find(|(go, _)| *go == name)
        .map(|(_, group)| *group)
        .ok_or_else(|| {
            let known: Vec<&str> = CURVES.iter().map(|(go, _)| *go).collect();
            format!(
                "curve {name} is not supported by pushgate (supported: {})",
                known.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{CipherSuite, NamedGroup};

    #[test]
    fn go_names_map_to_the_suites_of_the_same_name() {
        for (go, alias, suite) in TLS12_SUITES {
            let found = cipher_suite(go).expect(go).expect("a TLS 1.2 suite");
            assert_eq!(found.suite(), suite.suite());
            // rustls' enum names are the IANA names, which Go's follow.
            assert_eq!(format!("{:?}", found.suite()), *go);
            if !alias.is_empty() {
                assert_eq!(
                    cipher_suite(alias).expect(alias).map(|s| s.suite()),
                    Some(suite.suite())
                );
            }
        }
        // Every TLS 1.2 suite of the provider has a Go name here.
        let provider = rustls::crypto::ring::default_provider();
        let tls12 = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_none())
            .count();
        assert_eq!(tls12, TLS12_SUITES.len());
        assert_eq!(cipher_suite("TLS_AES_128_GCM_SHA256"), Ok(None));
        assert_eq!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").map(|s| s.map(|s| s.suite())),
            Ok(Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256))
        );
    }

    #[test]
    fn unsupported_suites_are_refused_by_name() {
        for name in [
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
            "x",
        ] {
            let e = cipher_suite(name).expect_err(name);
            assert!(
                e.starts_with(&format!(
                    "cipher suite {name} is not supported by pushgate (supported: TLS_ECDHE_"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn curves() {
        let names: Vec<NamedGroup> = ["X25519", "CurveP256", "CurveP384"]
            .iter()
            .map(|n| kx_group(n).expect(n).name())
            .collect();
        assert_eq!(
            names,
            [
                NamedGroup::X25519,
                NamedGroup::secp256r1,
                NamedGroup::secp384r1
            ]
        );
        for name in ["CurveP521", "X25519MLKEM768", "P256"] {
            let Err(e) = kx_group(name) else {
                panic!("{name} accepted")
            };
            assert!(
                e.starts_with(&format!("curve {name} is not supported by pushgate")),
                "{e}"
            );
        }
    }
}

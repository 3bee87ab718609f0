//! The subject alternative names of an X.509 certificate, as strings the way
//! Go prints them (DNS names, email addresses, IP addresses, URIs), for
//! `client_allowed_sans`.
//!
//! A small DER walker over exactly the path to the SubjectAltName extension;
//! everything else in the certificate is skipped. It runs only on
//! certificates webpki has already parsed and verified, and fails closed
//! (an error, so the client is refused) on anything it cannot read.

use std::net::{Ipv4Addr, Ipv6Addr};

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT Extensions` in TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// id-ce-subjectAltName, 2.5.29.17.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
// GeneralName choices (implicit tags, primitive).
const RFC822_NAME: u8 = 0x81;
const DNS_NAME: u8 = 0x82;
const URI: u8 = 0x86;
const IP_ADDRESS: u8 = 0x87;

/// The SAN values of the DER certificate `cert`, in certificate order; empty
/// when it has no SubjectAltName extension.
pub fn subject_alt_names(cert: &[u8]) -> Result<Vec<String>, &'static str> {
    let mut input = cert;
    let certificate = expect(&mut input, SEQUENCE)?;
    let mut certificate_fields = certificate;
    let mut tbs = expect(&mut certificate_fields, SEQUENCE)?;
    while !tbs.is_empty() {
        let (tag, value) = tlv(&mut tbs)?;
        if tag != EXTENSIONS {
            continue;
        }
        let mut wrapped = value;
        let mut extensions = expect(&mut wrapped, SEQUENCE)?;
        while !extensions.is_empty() {
            let mut extension = expect(&mut extensions, SEQUENCE)?;
            let oid = expect(&mut extension, OID)?;
            if oid != SAN_OID {
                continue;
            }
            // An optional `critical BOOLEAN` precedes the value.
            let (mut tag, mut value) = tlv(&mut extension)?;
            if tag == 0x01 {
                (tag, value) = tlv(&mut extension)?;
            }
            if tag != OCTET_STRING {
                return Err("SubjectAltName value is not an OCTET STRING");
            }
            return general_names(value);
        }
        return Ok(Vec::new());
    }
    Ok(Vec::new())
}

fn general_names(mut der: &[u8]) -> Result<Vec<String>, &'static str> {
    let mut names = expect(&mut der, SEQUENCE)?;
    let mut out = Vec::new();
    while !names.is_empty() {
        let (tag, value) = tlv(&mut names)?;
        match tag {
            RFC822_NAME | DNS_NAME | URI => {
                // IA5String: ASCII only.
                if !value.is_ascii() {
                    return Err("a SAN string is not ASCII");
                }
                out.push(String::from_utf8_lossy(value).into_owned());
            }
            IP_ADDRESS => out.push(ip_text(value)?),
            // otherName, directoryName, registeredID...: not compared (Go
            // does not expose them either).
            _ => {}
        }
    }
    Ok(out)
}

/// Go's `net.IP.String()`: IPv4-mapped IPv6 addresses print as IPv4.
fn ip_text(bytes: &[u8]) -> Result<String, &'static str> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(Ipv4Addr::from(v4).to_string());
    }
    let v6 =
        <[u8; 16]>::try_from(bytes).map_err(|_| "a SAN IP address is neither 4 nor 16 bytes")?;
    let v6 = Ipv6Addr::from(v6);
    Ok(match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    })
}

/// Reads one TLV whose tag must be `tag`, returning its value.
fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Result<&'a [u8], &'static str> {
    match tlv(input)? {
        (t, value) if t == tag => Ok(value),
        _ => Err("unexpected DER tag"),
    }
}

/// Reads one DER TLV (single-byte tag, definite length up to 4 bytes).
fn tlv<'a>(input: &mut &'a [u8]) -> Result<(u8, &'a [u8]), &'static str> {
    let bytes: &'a [u8] = input;
    let &[tag, first, ref rest @ ..] = bytes else {
        return Err("truncated DER");
    };
    if tag & 0x1f == 0x1f {
        return Err("multi-byte DER tags are not used in certificates");
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated DER");
    }
    let (value, after) = rest.split_at(len);
    *input = after;
    Ok((tag, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER TLV with the right length encoding.
    fn der(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match value.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(value);
        out
    }

    /// A certificate-shaped DER with `extensions` (already encoded) in [3].
    fn cert_with(extensions: &[Vec<u8>]) -> Vec<u8> {
        let mut tbs = Vec::new();
        tbs.extend(der(0xa0, &der(0x02, &[2]))); // version
        tbs.extend(der(0x02, &[1])); // serial
        tbs.extend(der(SEQUENCE, &der(OID, &[0x2a, 0x86, 0x48]))); // algorithm
        tbs.extend(der(SEQUENCE, &[])); // issuer
        tbs.extend(der(SEQUENCE, &[])); // validity
        tbs.extend(der(SEQUENCE, &[])); // subject
        tbs.extend(der(SEQUENCE, &[0u8; 200])); // spki, long-form length
        if !extensions.is_empty() {
            tbs.extend(der(EXTENSIONS, &der(SEQUENCE, &extensions.concat())));
        }
        let mut body = der(SEQUENCE, &tbs);
        body.extend(der(SEQUENCE, &der(OID, &[0x2a])));
        body.extend(der(0x03, &[0, 1, 2]));
        der(SEQUENCE, &body)
    }

    fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
        let mut body = der(OID, oid);
        if critical {
            body.extend(der(0x01, &[0xff]));
        }
        body.extend(der(OCTET_STRING, value));
        der(SEQUENCE, &body)
    }

    fn san(names: &[(u8, &[u8])]) -> Vec<u8> {
        let inner: Vec<u8> = names.iter().flat_map(|(t, v)| der(*t, v)).collect();
        der(SEQUENCE, &inner)
    }

    #[test]
    fn every_compared_kind_is_read_in_order() {
        let names = san(&[
            (DNS_NAME, b"a.example"),
            (0xa4, &der(SEQUENCE, &[])), // directoryName: skipped
            (RFC822_NAME, b"ops@example.com"),
            (IP_ADDRESS, &[10, 0, 0, 1]),
            (
                IP_ADDRESS,
                &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (
                IP_ADDRESS,
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1],
            ),
            (URI, b"spiffe://example.org/job"),
        ]);
        let cert = cert_with(&[
            extension(&[0x55, 0x1d, 0x13], true, &der(SEQUENCE, &[])),
            extension(SAN_OID, false, &names),
        ]);
        assert_eq!(
            subject_alt_names(&cert).expect("valid"),
            [
                "a.example",
                "ops@example.com",
                "10.0.0.1",
                "2001:db8::1",
                "192.0.2.1",
                "spiffe://example.org/job"
            ]
        );
    }

    #[test]
    fn critical_flag_and_missing_extensions() {
        let cert = cert_with(&[extension(SAN_OID, true, &san(&[(DNS_NAME, b"x")]))]);
        assert_eq!(subject_alt_names(&cert).expect("valid"), ["x"]);
        let none: Vec<String> = Vec::new();
        assert_eq!(subject_alt_names(&cert_with(&[])).expect("valid"), none);
        let other = cert_with(&[extension(&[0x55, 0x1d, 0x0f], false, &der(0x03, &[0]))]);
        assert_eq!(subject_alt_names(&other).expect("valid"), none);
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        let good = cert_with(&[extension(SAN_OID, false, &san(&[(DNS_NAME, b"name")]))]);
        // Every truncation and every single-byte corruption either parses or
        // errors; none panics, and no truncation yields the full name list.
        for cut in 0..good.len() {
            assert!(subject_alt_names(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for byte in [0x00, 0x1f, 0x7f, 0x80, 0x84, 0x85, 0xff] {
                let mut bad = good.clone();
                bad[at] = byte;
                let _ = subject_alt_names(&bad);
            }
        }
        let bad_ip = cert_with(&[extension(SAN_OID, false, &san(&[(IP_ADDRESS, &[1, 2, 3])]))]);
        assert!(subject_alt_names(&bad_ip).is_err());
        let non_ascii = cert_with(&[extension(
            SAN_OID,
            false,
            &san(&[(DNS_NAME, "é".as_bytes())]),
        )]);
        assert!(subject_alt_names(&non_ascii).is_err());
    }
}

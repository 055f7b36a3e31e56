//! GHL webhook signatures: `X-GHL-Signature` (Ed25519) and, when only it is
//! present, the legacy `X-WH-Signature` (RSA PKCS#1 v1.5 with SHA-256), both
//! base64, verified with `ring` over the **raw body bytes**.
//!
//! Why the raw bytes: GHL's sample code verifies `JSON.stringify(req.body)`
//! after `express.json()`. For a compact JSON body (what Node's
//! `JSON.stringify` produces on GHL's side) that re-serialisation reproduces
//! the bytes that were sent, so the raw body is what was signed. Re-serialising
//! here would not help anyway: serde_json does not reproduce JavaScript's key
//! order and number formatting, so a second attempt over our re-serialisation
//! could only add a way to be wrong. Integrators report raw-body verification
//! working; FACTS.md lists it as an open question to confirm on a real delivery.
//!
//! Fail closed: no signature header, an undecodable one, or one that does not
//! verify is refused. When `X-GHL-Signature` is present, it alone decides (no
//! fallback to the legacy header). A header value `N/A` counts as absent (GHL's
//! sample code does the same).

use axum::http::HeaderMap;
use base64::Engine;
use ring::signature;

/// GHL's published Ed25519 key (Webhook Integration Guide, 2026-08).
pub const GHL_ED25519_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----";

/// GHL's published legacy RSA key (4096 bit; docs `WebhookAuthentication.md`).
pub const GHL_RSA_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----";

pub const ED25519_HEADER: &str = "x-ghl-signature";
pub const RSA_HEADER: &str = "x-wh-signature";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
const RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}: not a PEM public key")]
    NotPem(&'static str),
    #[error("{0}: not an Ed25519 SubjectPublicKeyInfo")]
    NotEd25519(&'static str),
    #[error("{0}: not an RSA public key (SubjectPublicKeyInfo or PKCS#1)")]
    NotRsa(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature: X-GHL-Signature or X-WH-Signature is required")]
    Missing,
    #[error("the signature header is not valid base64")]
    Malformed,
    #[error("the signature does not verify")]
    Invalid,
}

/// Which signature verified a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    Ed25519,
    LegacyRsa,
}

/// The public keys webhooks are checked against.
#[derive(Clone)]
pub struct SignatureVerifier {
    ed25519: Vec<u8>,
    rsa_pkcs1: Vec<u8>,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier").finish_non_exhaustive()
    }
}

fn pem_der(pem: &str, what: &'static str) -> Result<(String, Vec<u8>), KeyError> {
    // Environment variables often carry a PEM on one line with literal `\n`s.
    let pem = pem.replace("\\n", "\n");
    let pem = pem.trim();
    let label = pem
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(KeyError::NotPem(what))?
        .to_owned();
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| KeyError::NotPem(what))?;
    Ok((label, der))
}

/// One DER TLV: (tag, contents, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 `RSAPublicKey` inside an RSA SubjectPublicKeyInfo.
fn rsa_pkcs1_from_spki(der: &[u8]) -> Option<Vec<u8>> {
    let (0x30, spki, []) = der_tlv(der)? else {
        return None;
    };
    let (0x30, algorithm, rest) = der_tlv(spki)? else {
        return None;
    };
    if !algorithm.starts_with(&RSA_OID) {
        return None;
    }
    let (0x03, bits, []) = der_tlv(rest)? else {
        return None;
    };
    let (&0, pkcs1) = bits.split_first()? else {
        return None;
    };
    // The PKCS#1 key is itself one SEQUENCE.
    matches!(der_tlv(pkcs1)?, (0x30, _, [])).then(|| pkcs1.to_vec())
}

impl SignatureVerifier {
    /// Keys from PEM text: an Ed25519 SubjectPublicKeyInfo, and an RSA key as
    /// SubjectPublicKeyInfo (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`).
    pub fn from_pems(ed25519_pem: &str, rsa_pem: &str) -> Result<Self, KeyError> {
        const ED: &str = "GHL_WEBHOOK_ED25519_PUBLIC_KEY";
        const RSA: &str = "GHL_WEBHOOK_RSA_PUBLIC_KEY";
        let (_, der) = pem_der(ed25519_pem, ED)?;
        let ed25519 = match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
            Some(key) if key.len() == 32 => key.to_vec(),
            _ => return Err(KeyError::NotEd25519(ED)),
        };
        let (label, der) = pem_der(rsa_pem, RSA)?;
        let rsa_pkcs1 = if label == "RSA PUBLIC KEY" {
            matches!(der_tlv(&der), Some((0x30, _, []))).then_some(der)
        } else {
            rsa_pkcs1_from_spki(&der)
        }
        .ok_or(KeyError::NotRsa(RSA))?;
        Ok(Self { ed25519, rsa_pkcs1 })
    }

    /// GHL's published keys.
    pub fn ghl() -> Result<Self, KeyError> {
        Self::from_pems(GHL_ED25519_PUBLIC_KEY, GHL_RSA_PUBLIC_KEY)
    }

    /// The raw 32 bytes of the Ed25519 key.
    pub fn ed25519_key(&self) -> &[u8] {
        &self.ed25519
    }

    /// Verifies `body` against the request's signature headers.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<SignatureKind, SignatureError> {
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().map(str::trim).unwrap_or("\u{0}"))
                .filter(|v| !v.is_empty() && *v != "N/A")
        };
        let decode = |v: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| SignatureError::Malformed)
        };
        if let Some(value) = header(ED25519_HEADER) {
            let sig = decode(value)?;
            return signature::UnparsedPublicKey::new(&signature::ED25519, &self.ed25519)
                .verify(body, &sig)
                .map(|()| SignatureKind::Ed25519)
                .map_err(|_| SignatureError::Invalid);
        }
        if let Some(value) = header(RSA_HEADER) {
            let sig = decode(value)?;
            return signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &self.rsa_pkcs1,
            )
            .verify(body, &sig)
            .map(|()| SignatureKind::LegacyRsa)
            .map_err(|_| SignatureError::Invalid);
        }
        Err(SignatureError::Missing)
    }
}

/// PEM text of an Ed25519 SubjectPublicKeyInfo for 32 raw key bytes (for tests
/// and operators who hold a raw key).
pub fn ed25519_pem(raw: &[u8]) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn ghls_published_keys_parse() {
        let verifier = SignatureVerifier::ghl().unwrap();
        assert_eq!(
            hex::encode(verifier.ed25519_key()),
            "8b61d1d6cacbe28d7c3bc0516bb815258ec6edbba96cddc7f40c09ac708388e8"
        );
        // 4096-bit modulus: the PKCS#1 key is a little over 512 bytes.
        assert!(verifier.rsa_pkcs1.len() > 512);
    }

    #[test]
    fn an_ed25519_signature_over_the_raw_body_verifies_and_a_changed_body_does_not() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let verifier = SignatureVerifier::from_pems(
            &ed25519_pem(pair.public_key().as_ref()),
            GHL_RSA_PUBLIC_KEY,
        )
        .unwrap();
        let body = br#"{"type":"ContactCreate","id":"c1"}"#;
        let sig = b64(pair.sign(body).as_ref());
        let h = headers(&[(ED25519_HEADER, sig.clone())]);
        assert_eq!(verifier.verify(&h, body), Ok(SignatureKind::Ed25519));
        assert_eq!(
            verifier.verify(&h, br#"{"type":"ContactCreate","id":"c2"}"#),
            Err(SignatureError::Invalid)
        );
        // GHL's real key does not accept our test signature.
        assert_eq!(
            SignatureVerifier::ghl().unwrap().verify(&h, body),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn missing_na_and_undecodable_signatures_are_refused() {
        let verifier = SignatureVerifier::ghl().unwrap();
        assert_eq!(
            verifier.verify(&HeaderMap::new(), b"{}"),
            Err(SignatureError::Missing)
        );
        let na = headers(&[(ED25519_HEADER, "N/A".into()), (RSA_HEADER, "N/A".into())]);
        assert_eq!(verifier.verify(&na, b"{}"), Err(SignatureError::Missing));
        let junk = headers(&[(ED25519_HEADER, "not base64 !!".into())]);
        assert_eq!(
            verifier.verify(&junk, b"{}"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_pem_on_one_line_with_escaped_newlines_is_accepted() {
        let one_line = GHL_ED25519_PUBLIC_KEY.replace('\n', "\\n");
        assert!(!one_line.contains('\n'));
        let verifier = SignatureVerifier::from_pems(&one_line, GHL_RSA_PUBLIC_KEY).unwrap();
        assert_eq!(
            verifier.ed25519_key(),
            SignatureVerifier::ghl().unwrap().ed25519_key()
        );
    }

    #[test]
    fn bad_pems_are_refused_with_the_variable_named() {
        assert_eq!(
            SignatureVerifier::from_pems("nonsense", GHL_RSA_PUBLIC_KEY).unwrap_err(),
            KeyError::NotPem("GHL_WEBHOOK_ED25519_PUBLIC_KEY")
        );
        assert_eq!(
            SignatureVerifier::from_pems(GHL_RSA_PUBLIC_KEY, GHL_RSA_PUBLIC_KEY).unwrap_err(),
            KeyError::NotEd25519("GHL_WEBHOOK_ED25519_PUBLIC_KEY")
        );
        assert_eq!(
            SignatureVerifier::from_pems(GHL_ED25519_PUBLIC_KEY, GHL_ED25519_PUBLIC_KEY)
                .unwrap_err(),
            KeyError::NotRsa("GHL_WEBHOOK_RSA_PUBLIC_KEY")
        );
    }
}

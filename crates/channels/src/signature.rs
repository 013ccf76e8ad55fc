//! Webhook signatures, checked over the exact bytes received and before anything is parsed,
//! in constant time, against every secret in force (two while one is being rotated).

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use unicode_normalization::UnicodeNormalization;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(secret: &[u8]) -> Option<HmacSha256> {
    <HmacSha256 as KeyInit>::new_from_slice(secret).ok()
}

/// Shopify's `X-Shopify-Hmac-Sha256` and WooCommerce's `X-WC-Webhook-Signature`: the base64 of
/// HMAC-SHA256 over the body, keyed by the secret. True when any secret signed `body`.
pub fn base64_hmac_matches(body: &[u8], header: &str, secrets: &[String]) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    secrets.iter().filter(|s| !s.is_empty()).any(|secret| {
        mac(secret.as_bytes()).is_some_and(|mut m| {
            m.update(body);
            m.verify_slice(&expected).is_ok()
        })
    })
}

/// The base64 signature Shopify and WooCommerce would send for `body`: for stand-ins and tests.
pub fn base64_hmac(body: &[u8], secret: &str) -> String {
    let Some(mut m) = mac(secret.as_bytes()) else { return String::new() };
    m.update(body);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// EasyPost's `X-Hmac-Signature: hmac-sha256-hex=<hex>`, keyed by the secret normalised to
/// NFKD, as EasyPost's own libraries check it.
pub fn easypost_matches(body: &[u8], header: &str, secrets: &[String]) -> bool {
    let Some(hex) = header.trim().strip_prefix("hmac-sha256-hex=") else {
        return false;
    };
    let Some(expected) = from_hex(hex) else {
        return false;
    };
    secrets.iter().filter(|s| !s.is_empty()).any(|secret| {
        let key: String = secret.nfkd().collect();
        mac(key.as_bytes()).is_some_and(|mut m| {
            m.update(body);
            m.verify_slice(&expected).is_ok()
        })
    })
}

/// The EasyPost header value for `body`: for stand-ins and tests.
pub fn easypost_signature(body: &[u8], secret: &str) -> String {
    let key: String = secret.nfkd().collect();
    let Some(mut m) = mac(key.as_bytes()) else { return String::new() };
    m.update(body);
    let digest = m.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("hmac-sha256-hex={hex}")
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4231_case_2_in_base64() {
        // RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?".
        let signature = base64_hmac(b"what do ya want for nothing?", "Jefe");
        assert_eq!(signature, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert!(base64_hmac_matches(b"what do ya want for nothing?", &signature, &["Jefe".into()]));
    }

    #[test]
    fn any_current_secret_signs_and_nothing_else_does() {
        let body = br#"{"id": 820982911946154508}"#;
        let old = "old-secret".to_owned();
        let new = "new-secret".to_owned();
        let signed_old = base64_hmac(body, &old);
        assert!(base64_hmac_matches(body, &signed_old, &[new.clone(), old.clone()]), "during a rotation");
        assert!(!base64_hmac_matches(body, &signed_old, std::slice::from_ref(&new)), "after it");
        assert!(!base64_hmac_matches(b"{\"id\": 1}", &signed_old, std::slice::from_ref(&old)), "another body");
        assert!(!base64_hmac_matches(body, "not base64!", std::slice::from_ref(&old)));
        assert!(!base64_hmac_matches(body, "", &[old]));
        assert!(!base64_hmac_matches(body, &base64_hmac(body, ""), &[String::new()]), "an empty secret signs nothing");
    }

    #[test]
    fn easypost_uses_hex_and_an_nfkd_secret() {
        let body = br#"{"description": "tracker.updated"}"#;
        // "ﬁ" (U+FB01) decomposes to "fi" under NFKD.
        let header = easypost_signature(body, "secret-ﬁ");
        assert!(header.starts_with("hmac-sha256-hex="));
        assert!(easypost_matches(body, &header, &["secret-fi".into()]));
        assert!(easypost_matches(body, &header, &["secret-ﬁ".into()]));
        assert!(!easypost_matches(body, &header, &["another".into()]));
        assert!(!easypost_matches(body, "hmac-sha256-hex=zz", &["secret-fi".into()]));
    }

    /// Known answers computed apart from this code, with Python's `hmac`, `hashlib` and
    /// `unicodedata.normalize("NFKD", secret)`.
    #[test]
    fn easypost_known_answers() {
        let body = br#"{"id":"evt_1","object":"Event","description":"tracker.updated","result":{"object":"Tracker","tracking_code":"EZ1000000001","status":"delivered"}}"#;
        let plain = "hmac-sha256-hex=181c6a4683a966660fb8ddd07c84ea6ade6d1b59310e61620462ba235a58bead";
        assert_eq!(easypost_signature(body, "easypost-webhook-secret"), plain);
        assert!(easypost_matches(body, plain, &["easypost-webhook-secret".into()]));
        assert!(easypost_matches(body, &plain.to_uppercase().replace("HMAC-SHA256-HEX=", "hmac-sha256-hex="), &["easypost-webhook-secret".into()]), "hex in either case");

        // "café-ﬁle-１２３": é splits into e and a combining accent, ﬁ into f and i, the
        // full-width digits become ASCII; the key is "cafe\u{301}-file-123".
        let composed = "caf\u{e9}-\u{fb01}le-\u{ff11}\u{ff12}\u{ff13}";
        let normalised = "hmac-sha256-hex=510db1e265d1183db34f16b225b64a5160dff94d251e1eab8171cceeb2ca6bb2";
        assert_eq!(easypost_signature(body, composed), normalised);
        assert!(easypost_matches(body, normalised, &[composed.into()]));
        assert!(easypost_matches(body, normalised, &["cafe\u{301}-file-123".into()]), "the secret given already decomposed");
        // Keyed by the secret's bytes as given, not normalised: what EasyPost does not send.
        let unnormalised = "hmac-sha256-hex=a4c45da08fd9f31c439834fe960fcd7d1484b727a6be9054406c3ef362fbed51";
        assert!(!easypost_matches(body, unnormalised, &[composed.into()]));
        assert!(!easypost_matches(body, normalised, &["cafe-file-123".into()]), "the accent is part of the key");
        assert!(!easypost_matches(body, &normalised.replace("hmac-sha256-hex=", "sha256="), &[composed.into()]), "the scheme is named");
    }

    proptest! {
        #[test]
        fn a_changed_byte_never_verifies(body in proptest::collection::vec(any::<u8>(), 1..200), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let secret = "s3cret".to_owned();
            let signature = base64_hmac(&body, &secret);
            let mut changed = body.clone();
            let i = at.index(changed.len());
            changed[i] ^= flip;
            prop_assert!(base64_hmac_matches(&body, &signature, std::slice::from_ref(&secret)));
            prop_assert!(!base64_hmac_matches(&changed, &signature, &[secret]));
        }
    }
}

//! The twin's DKIM and ARC test keys and the DNS TXT records that publish their public halves.
//!
//! The key files in `crates/twin/keys/` are PUBLIC TEST-ONLY keys, checked in on purpose: they protect nothing
//! and exist so that the twin's mail really verifies with a DKIM/ARC verifier fed [`DkimKeys::txt_record`].

use base64::Engine as _;
use mail_auth::common::crypto::{RsaKey, Sha256};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject as _};

use super::MailError;

/// Selector of the customer's Easy DKIM signature: SES Easy DKIM selectors are 32 characters of base32
/// (research/authres-realworld.md §0, DKIM-Signature #1). Made up for the twin.
const CUSTOMER_SELECTOR: &str = "hyzhltdzjtwbiqhj536bz2ny4qi4ovpx";

/// ARC selectors of the receivers that seal: Gmail `s=arc-20160816` (research/authres-realworld.md §1), Fastmail
/// `s=fm1` (§5).
const ARC_SELECTORS: [(&str, &str); 2] = [("google.com", "arc-20160816"), ("messagingengine.com", "fm1")];

/// Which of the three key pairs a record or signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The customer's Easy DKIM key (`d=<dkim_domain>`).
    Customer,
    /// SES's own key (`d=amazonses.com`).
    Amazonses,
    /// The receivers' ARC key (`d=google.com`, `d=messagingengine.com`).
    Arc,
}

/// Test DKIM keys of the twin (customer domain, amazonses.com, receivers' ARC). Not secrets: public test keys,
/// checked in under `crates/twin/keys/` so any verifier can be fed their public halves.
#[derive(Clone)]
pub struct DkimKeys {
    customer: KeyPem,
    amazonses: KeyPem,
    arc: KeyPem,
}

#[derive(Clone)]
struct KeyPem {
    private: &'static str,
    public: &'static str,
    file: &'static str,
}

impl std::fmt::Debug for DkimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Test keys, but a private key never belongs in a log line.
        f.debug_struct("DkimKeys")
            .field("customer_selector", &CUSTOMER_SELECTOR)
            .field("private_keys", &"<redacted>")
            .finish()
    }
}

impl DkimKeys {
    /// The checked-in public test keys.
    pub fn test_keys() -> Self {
        DkimKeys {
            customer: KeyPem {
                private: include_str!("../../keys/customer.key.pem"),
                public: include_str!("../../keys/customer.pub.pem"),
                file: "crates/twin/keys/customer.key.pem",
            },
            amazonses: KeyPem {
                private: include_str!("../../keys/amazonses.key.pem"),
                public: include_str!("../../keys/amazonses.pub.pem"),
                file: "crates/twin/keys/amazonses.key.pem",
            },
            arc: KeyPem {
                private: include_str!("../../keys/arc.key.pem"),
                public: include_str!("../../keys/arc.pub.pem"),
                file: "crates/twin/keys/arc.key.pem",
            },
        }
    }

    /// Selector of the customer's Easy DKIM signature, whatever the DKIM domain.
    pub fn customer_selector(&self) -> &'static str {
        CUSTOMER_SELECTOR
    }

    /// Selector of SES's `d=amazonses.com` signature in `region`. us-east-1 and us-west-2 use selectors seen
    /// in real SES mail (research/authres-realworld.md §0); other Regions get a made-up one of the same shape.
    pub fn amazonses_selector(region: &str) -> &'static str {
        match region {
            "us-east-1" => "224i4yxa5dv7c2xz3womw6peuasteono",
            "us-west-2" => "gdwg2y3kokkkj5a55z2ilkup5wp5hhxx",
            _ => "tw3nr7dz4kpxq2m6vyb5hje8ucsa9fwl",
        }
    }

    /// ARC selector of the sealing domain (`google.com`, `messagingengine.com`).
    pub fn arc_selector(domain: &str) -> Option<&'static str> {
        ARC_SELECTORS.iter().find(|(d, _)| *d == domain).map(|(_, s)| *s)
    }

    /// The DNS TXT record published at `name` (`<selector>._domainkey.<domain>`, trailing dot optional), as a
    /// verifier would fetch it: `v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo, base64>` (RFC 6376 §3.6.1). The
    /// customer key is published for its selector under any domain, so scenarios may pick any DKIM domain.
    /// `None` for every other name.
    pub fn txt_record(&self, name: &str) -> Option<String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let (selector, domain) = name.split_once("._domainkey.")?;
        let key = if selector == CUSTOMER_SELECTOR {
            &self.customer
        } else if domain == "amazonses.com"
            && ["us-east-1", "us-west-2", "other"].iter().any(|r| Self::amazonses_selector(r) == selector)
        {
            &self.amazonses
        } else if Self::arc_selector(domain) == Some(selector) {
            &self.arc
        } else {
            return None;
        };
        Some(format!("v=DKIM1; k=rsa; p={}", pem_body(key.public)))
    }

    /// The parsed private key of `role`, ready for mail-auth's signers.
    pub(super) fn signing_key(&self, role: KeyRole) -> Result<RsaKey<Sha256>, MailError> {
        let pem = match role {
            KeyRole::Customer => &self.customer,
            KeyRole::Amazonses => &self.amazonses,
            KeyRole::Arc => &self.arc,
        };
        let bad = |reason: String| MailError::Key { file: pem.file, reason };
        let der = PrivateKeyDer::from_pem_slice(pem.private.as_bytes()).map_err(|e| match e {
            pem::Error::NoItemsFound => bad("no PEM private key block (expected -----BEGIN PRIVATE KEY-----)".into()),
            other => bad(other.to_string()),
        })?;
        RsaKey::<Sha256>::from_key_der(der).map_err(|e| bad(e.to_string()))
    }

    /// Base64 of the public key of `role` (the `p=` value of its TXT record).
    pub fn public_key_base64(&self, role: KeyRole) -> String {
        pem_body(match role {
            KeyRole::Customer => self.customer.public,
            KeyRole::Amazonses => self.amazonses.public,
            KeyRole::Arc => self.arc.public,
        })
    }
}

/// The base64 between the PEM armor lines, joined (RFC 7468 §2).
fn pem_body(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    // Round-trip through the decoder so a damaged file shows up as an empty key rather than garbage.
    match base64::engine::general_purpose::STANDARD.decode(&body) {
        Ok(_) => body,
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checked_in_key_parses() {
        let keys = DkimKeys::test_keys();
        for role in [KeyRole::Customer, KeyRole::Amazonses, KeyRole::Arc] {
            assert!(keys.signing_key(role).is_ok(), "{role:?}");
            assert!(keys.public_key_base64(role).len() > 300, "{role:?}");
        }
    }

    #[test]
    fn txt_records_by_name() {
        let keys = DkimKeys::test_keys();
        let customer = keys.public_key_base64(KeyRole::Customer);
        let ses = keys.public_key_base64(KeyRole::Amazonses);
        let arc = keys.public_key_base64(KeyRole::Arc);
        let cases: [(&str, String, Option<&str>); 7] = [
            ("customer key, any domain", format!("{CUSTOMER_SELECTOR}._domainkey.thephenom.app."), Some(&customer)),
            ("us-east-1 SES", "224i4yxa5dv7c2xz3womw6peuasteono._domainkey.amazonses.com".into(), Some(&ses)),
            ("us-west-2 SES", "gdwg2y3kokkkj5a55z2ilkup5wp5hhxx._domainkey.amazonses.com".into(), Some(&ses)),
            ("Gmail ARC", "arc-20160816._domainkey.google.com".into(), Some(&arc)),
            ("Fastmail ARC", "fm1._domainkey.messagingengine.com".into(), Some(&arc)),
            (
                "SES selector under another domain",
                "224i4yxa5dv7c2xz3womw6peuasteono._domainkey.example.com".into(),
                None,
            ),
            ("not a DKIM name", "_dmarc.example.com".into(), None),
        ];
        for (name, query, expected) in cases {
            let got = keys.txt_record(&query);
            assert_eq!(got, expected.map(|p| format!("v=DKIM1; k=rsa; p={p}")), "{name}");
        }
    }

    #[test]
    fn debug_does_not_print_key_material() {
        let keys = DkimKeys::test_keys();
        let shown = format!("{keys:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        assert!(!shown.contains(&keys.public_key_base64(KeyRole::Customer)[..40]), "{shown}");
    }
}

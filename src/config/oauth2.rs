//! `[imap.oauth2]`: how the probe gets the OAuth2 access token its XOAUTH2 login sends, instead of a ready
//! token from `imap.token`. Three grants, one per way a mailbox provider lets a program in:
//!
//! * `refresh_token` (RFC 6749 §6): a user's consent given once (Gmail, Microsoft 365 delegated);
//! * `service_account` (RFC 7523 §2.1, JWT bearer grant): Google Workspace domain-wide delegation;
//! * `client_credentials` (RFC 6749 §4.4): Microsoft 365 app-only, with a client secret or a certificate
//!   (a `client_assertion` JWT, RFC 7523 §2.2).
//!
//! Provider defaults (token URLs, scopes) come from research/ses-events-oauth-emf.md §4. Every secret
//! (client secret, refresh token, key) is a secret source, never an inline value.

use serde::Deserialize;

use crate::secret::SecretSource;

/// Google's token endpoint (developers.google.com/identity/protocols/oauth2).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scope of IMAP, POP and SMTP at Gmail (developers.google.com/gmail/imap/xoauth2-protocol).
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
/// Delegated IMAP access at Exchange Online, with a refresh token (`offline_access`).
pub const MICROSOFT_DELEGATED_SCOPE: &str = "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access";
/// App-only access at Exchange Online: the application permissions granted to the app (`IMAP.AccessAsApp`).
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";

/// `[imap.oauth2]` as written in the probe file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    pub grant: Grant,
    /// Fills in the token URL and the scope; `token_url` overrides it.
    #[serde(default)]
    pub provider: Option<Provider>,
    /// The token endpoint: HTTPS (plain http only to a loopback address).
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Optional for Microsoft public clients.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// The refresh token of the `refresh_token` grant.
    #[serde(default)]
    pub refresh_token: Option<SecretSource>,
    /// Space-separated scopes; the provider's default for the grant when unset.
    #[serde(default)]
    pub scope: Option<String>,
    /// The Entra tenant (Microsoft): `common` for delegated access by default; required for app-only.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The service account's JSON key (`client_email`, `private_key`, `token_uri`).
    #[serde(default)]
    pub key: Option<SecretSource>,
    /// The Workspace user the service account acts as; default: `imap.username`.
    #[serde(default)]
    pub subject: Option<String>,
    /// The PEM private key of the app's certificate (client_credentials without a secret).
    #[serde(default)]
    pub certificate_key: Option<SecretSource>,
    /// The certificate's SHA-1 thumbprint in hex, as the Entra portal shows it.
    #[serde(default)]
    pub certificate_thumbprint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    RefreshToken,
    ServiceAccount,
    ClientCredentials,
}

impl Grant {
    pub fn name(self) -> &'static str {
        match self {
            Grant::RefreshToken => "refresh_token",
            Grant::ServiceAccount => "service_account",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Google,
    Microsoft,
}

impl OAuth2Settings {
    /// The provider, as set or implied by the grant (service accounts are Google's, app-only is Microsoft's).
    pub fn provider(&self) -> Option<Provider> {
        self.provider.or(match self.grant {
            Grant::RefreshToken => None,
            Grant::ServiceAccount => Some(Provider::Google),
            Grant::ClientCredentials => Some(Provider::Microsoft),
        })
    }

    /// The token endpoint, before a service-account key names its own (`token_uri`).
    pub fn token_url(&self) -> Option<String> {
        if let Some(url) = &self.token_url {
            return Some(url.clone());
        }
        match (self.provider(), self.grant) {
            (_, Grant::ServiceAccount) => None,
            (Some(Provider::Google), _) => Some(GOOGLE_TOKEN_URL.to_string()),
            (Some(Provider::Microsoft), _) => {
                let tenant = self.tenant.as_deref().unwrap_or("common");
                Some(format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"))
            }
            (None, _) => None,
        }
    }

    /// The scopes asked for: the configured ones, else the provider's default for the grant.
    pub fn scopes(&self) -> Vec<String> {
        let text = match (&self.scope, self.provider(), self.grant) {
            (Some(scope), _, _) => scope.as_str(),
            (None, _, Grant::ServiceAccount) | (None, Some(Provider::Google), _) => GOOGLE_SCOPE,
            (None, _, Grant::ClientCredentials) => MICROSOFT_APP_SCOPE,
            (None, Some(Provider::Microsoft), Grant::RefreshToken) => MICROSOFT_DELEGATED_SCOPE,
            (None, None, Grant::RefreshToken) => "",
        };
        text.split_whitespace().map(str::to_string).collect()
    }

    /// Every secret source of the section, with its dotted key.
    pub fn secret_sources(&self) -> Vec<(&'static str, &SecretSource)> {
        let named = [
            ("imap.oauth2.client_secret", &self.client_secret),
            ("imap.oauth2.refresh_token", &self.refresh_token),
            ("imap.oauth2.key", &self.key),
            ("imap.oauth2.certificate_key", &self.certificate_key),
        ];
        named.into_iter().filter_map(|(key, s)| s.as_ref().map(|s| (key, s))).collect()
    }

    /// Rules serde cannot express: the dotted field and the message.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let grant = self.grant.name();
        let not_for = |field: &'static str| Err((field, format!("is not used by grant = \"{grant}\"")));
        match self.grant {
            Grant::RefreshToken => {
                if self.refresh_token.is_none() {
                    return Err((
                        "imap.oauth2.refresh_token",
                        "grant = \"refresh_token\" needs refresh_token = { env | file | command | credential = … }"
                            .into(),
                    ));
                }
                if self.client_id.is_none() {
                    return Err((
                        "imap.oauth2.client_id",
                        "grant = \"refresh_token\" needs the OAuth client's id".into(),
                    ));
                }
                if self.provider() == Some(Provider::Google) && self.client_secret.is_none() {
                    return Err((
                        "imap.oauth2.client_secret",
                        "Google's token endpoint needs the OAuth client's secret".into(),
                    ));
                }
                if self.key.is_some() {
                    return not_for("imap.oauth2.key");
                }
                if self.certificate_key.is_some() || self.certificate_thumbprint.is_some() {
                    return not_for("imap.oauth2.certificate_key");
                }
                if self.subject.is_some() {
                    return not_for("imap.oauth2.subject");
                }
            }
            Grant::ServiceAccount => {
                if self.key.is_none() {
                    return Err((
                        "imap.oauth2.key",
                        "grant = \"service_account\" needs key = { file | … } (the service account's JSON key)".into(),
                    ));
                }
                if self.provider == Some(Provider::Microsoft) {
                    return Err((
                        "imap.oauth2.provider",
                        "grant = \"service_account\" is Google Workspace's (domain-wide delegation)".into(),
                    ));
                }
                for (field, set) in [
                    ("imap.oauth2.client_id", self.client_id.is_some()),
                    ("imap.oauth2.client_secret", self.client_secret.is_some()),
                    ("imap.oauth2.refresh_token", self.refresh_token.is_some()),
                    ("imap.oauth2.tenant", self.tenant.is_some()),
                    ("imap.oauth2.certificate_key", self.certificate_key.is_some()),
                ] {
                    if set {
                        return not_for(field);
                    }
                }
            }
            Grant::ClientCredentials => {
                if self.provider == Some(Provider::Google) {
                    let message = "grant = \"client_credentials\" is Microsoft 365's app-only access; Google Workspace \
                                   uses grant = \"service_account\"";
                    return Err(("imap.oauth2.provider", message.into()));
                }
                if self.client_id.is_none() {
                    return Err((
                        "imap.oauth2.client_id",
                        "grant = \"client_credentials\" needs the app's client id".into(),
                    ));
                }
                if self.tenant.is_none() && self.token_url.is_none() {
                    return Err((
                        "imap.oauth2.tenant",
                        "grant = \"client_credentials\" needs the Entra tenant (its id or domain)".into(),
                    ));
                }
                match (&self.client_secret, &self.certificate_key, &self.certificate_thumbprint) {
                    (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                    (Some(_), _, _) => {
                        return Err((
                            "imap.oauth2.client_secret",
                            "set either client_secret or certificate_key with certificate_thumbprint, not both".into(),
                        ));
                    }
                    (None, None, None) => {
                        let message = "grant = \"client_credentials\" needs client_secret, or certificate_key with \
                                       certificate_thumbprint";
                        return Err(("imap.oauth2.client_secret", message.into()));
                    }
                    (None, Some(_), None) => {
                        return Err((
                            "imap.oauth2.certificate_thumbprint",
                            "certificate_key needs the certificate's SHA-1 thumbprint (hex, as Entra shows it)".into(),
                        ));
                    }
                    (None, None, Some(_)) => {
                        return Err((
                            "imap.oauth2.certificate_key",
                            "certificate_thumbprint needs certificate_key (the certificate's PEM private key)".into(),
                        ));
                    }
                }
                if self.refresh_token.is_some() {
                    return not_for("imap.oauth2.refresh_token");
                }
                if self.subject.is_some() {
                    return not_for("imap.oauth2.subject");
                }
            }
        }
        if let Some(thumbprint) = &self.certificate_thumbprint
            && thumbprint_bytes(thumbprint).is_none()
        {
            let message = format!("{thumbprint:?} is not a SHA-1 thumbprint, expected 40 hex digits");
            return Err(("imap.oauth2.certificate_thumbprint", message));
        }
        if self.tenant.is_some() && self.provider() == Some(Provider::Google) {
            return Err(("imap.oauth2.tenant", "is Microsoft's (the Entra tenant); Google has none".into()));
        }
        if let Some(tenant) = &self.tenant
            && (tenant.is_empty() || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')))
        {
            return Err(("imap.oauth2.tenant", format!("{tenant:?} is not a tenant id or domain")));
        }
        match &self.token_url {
            Some(url) => check_token_url(url).map_err(|m| ("imap.oauth2.token_url", m))?,
            None if self.grant == Grant::RefreshToken && self.provider.is_none() => {
                return Err((
                    "imap.oauth2.provider",
                    "set provider = \"google\" or \"microsoft\", or token_url".into(),
                ));
            }
            None => {}
        }
        Ok(())
    }
}

/// The thumbprint's 20 bytes, from hex (colons and spaces allowed, as certificate tools print them).
pub fn thumbprint_bytes(text: &str) -> Option<Vec<u8>> {
    let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..40).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

/// A token endpoint must be HTTPS; plain http only to a loopback address (a local test endpoint), where
/// no network sees the secrets.
pub fn check_token_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("{:?} is not an http(s) URL", crate::alert::http::redacted(url)));
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() {
        return Err(format!("{:?} has no host", crate::alert::http::redacted(url)));
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "{:?} is plain http: the token endpoint must be https (http only to a loopback address)",
            crate::alert::http::redacted(url)
        )),
        other => Err(format!("scheme {other:?} is not https")),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> OAuth2Settings {
        toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn provider_defaults_for_each_grant() {
        let google = parse(
            "grant = \"refresh_token\"\nprovider = \"google\"\nclient_id = \"c\"\n\
             client_secret = { env = \"S\" }\nrefresh_token = { env = \"R\" }",
        );
        assert_eq!(google.token_url().as_deref(), Some(GOOGLE_TOKEN_URL));
        assert_eq!(google.scopes(), ["https://mail.google.com/"]);
        assert_eq!(google.validate(), Ok(()));

        let ms = parse(
            "grant = \"refresh_token\"\nprovider = \"microsoft\"\nclient_id = \"c\"\nrefresh_token = { env = \"R\" }",
        );
        assert_eq!(ms.token_url().as_deref(), Some("https://login.microsoftonline.com/common/oauth2/v2.0/token"));
        assert_eq!(ms.scopes(), ["https://outlook.office365.com/IMAP.AccessAsUser.All", "offline_access"]);
        assert_eq!(ms.validate(), Ok(()), "a public client needs no secret");

        let app = parse(
            "grant = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\n\
             client_secret = { env = \"S\" }",
        );
        assert_eq!(
            app.token_url().as_deref(),
            Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        );
        assert_eq!(app.scopes(), ["https://outlook.office365.com/.default"]);
        assert_eq!(app.validate(), Ok(()));

        let sa = parse("grant = \"service_account\"\nkey = { file = \"/etc/probe/sa.json\" }");
        assert_eq!(sa.token_url(), None, "the key's token_uri");
        assert_eq!(sa.scopes(), ["https://mail.google.com/"]);
        assert_eq!(sa.validate(), Ok(()));
    }

    /// Each bad section and the field its error names.
    #[test]
    fn bad_sections_name_the_field() {
        let cases = [
            (
                "no refresh token",
                "grant = \"refresh_token\"\nprovider = \"google\"\nclient_id = \"c\"\nclient_secret = { env = \"S\" }",
                "imap.oauth2.refresh_token",
            ),
            (
                "google without secret",
                "grant = \"refresh_token\"\nprovider = \"google\"\nclient_id = \"c\"\nrefresh_token = { env = \"R\" }",
                "imap.oauth2.client_secret",
            ),
            (
                "no provider nor url",
                "grant = \"refresh_token\"\nclient_id = \"c\"\nrefresh_token = { env = \"R\" }",
                "imap.oauth2.provider",
            ),
            (
                "plain http",
                "grant = \"refresh_token\"\ntoken_url = \"http://auth.example.com/token\"\nclient_id = \"c\"\n\
                 refresh_token = { env = \"R\" }",
                "imap.oauth2.token_url",
            ),
            (
                "app-only without tenant",
                "grant = \"client_credentials\"\nclient_id = \"c\"\nclient_secret = { env = \"S\" }",
                "imap.oauth2.tenant",
            ),
            (
                "secret and certificate",
                "grant = \"client_credentials\"\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret = { env = \"S\" }\n\
                 certificate_key = { env = \"K\" }\ncertificate_thumbprint = \"00\"",
                "imap.oauth2.client_secret",
            ),
            (
                "bad thumbprint",
                "grant = \"client_credentials\"\ntenant = \"t\"\nclient_id = \"c\"\ncertificate_key = { env = \"K\" }\n\
                 certificate_thumbprint = \"zz\"",
                "imap.oauth2.certificate_thumbprint",
            ),
            (
                "service account with a client id",
                "grant = \"service_account\"\nkey = { env = \"K\" }\nclient_id = \"c\"",
                "imap.oauth2.client_id",
            ),
            (
                "service account at microsoft",
                "grant = \"service_account\"\nprovider = \"microsoft\"\nkey = { env = \"K\" }",
                "imap.oauth2.provider",
            ),
        ];
        for (case, text, field) in cases {
            let err = parse(text).validate().expect_err(case);
            assert_eq!(err.0, field, "{case}: {}", err.1);
        }
    }

    #[test]
    fn loopback_http_is_allowed_and_nothing_else_plain() {
        for ok in
            ["https://login.example.com/t", "http://127.0.0.1:8080/token", "http://[::1]:1/t", "http://localhost/t"]
        {
            assert_eq!(check_token_url(ok), Ok(()), "{ok}");
        }
        for bad in ["http://10.0.0.1/token", "ftp://x/y", "token", "http:///t"] {
            assert!(check_token_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn thumbprints_read_hex_with_separators() {
        let bytes = thumbprint_bytes("0A:1b:2C:3d:4E:5f:60:71:82:93:A4:B5:C6:D7:E8:F9:00:11:22:33").unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(thumbprint_bytes("abc"), None);
    }
}

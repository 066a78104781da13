//! `[social]`: sign-in with an outside identity provider (OpenID Connect, or OAuth 2.0 with a
//! user endpoint).
//!
//! Every provider is off until `enabled`; every URL has the provider's public default and can
//! be pointed elsewhere (a tenant's issuer, a test provider on loopback). Client secrets are
//! best given in the environment (`TANDEM_SOCIAL__GOOGLE__CLIENT_SECRET`).

use std::fmt;
use std::path::PathBuf;

use openidconnect::url::Url;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, lenient, redacted};

/// Apple refuses client-secret JWTs that live longer than six months (15 777 000 s).
pub const APPLE_MAX_SECRET_SECS: u64 = 15_777_000;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// One provider's settings. The same keys for every preset; those a preset does not use
/// (the OAuth 2.0 URLs for an OpenID provider, Apple's key for the others) are ignored. What
/// is left empty takes the preset's value ([`SocialConfig::fill_presets`]).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// Offer this provider (`/v1/auth/social/start` answers `not_found` otherwise).
    pub enabled: bool,
    /// The client id the provider gave you (Apple: the Services ID).
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    /// The client secret (not for Apple, whose secret is a JWT made from `private_key_file`).
    #[serde(deserialize_with = "lenient::opt_secret", serialize_with = "redacted")]
    pub client_secret: Option<SecretString>,
    /// OpenID Connect: the issuer; its metadata is read from
    /// `<issuer>/.well-known/openid-configuration`. OAuth 2.0 presets: the name space of the
    /// provider's user ids (part of the stored identity, so keep it once users exist).
    #[serde(deserialize_with = "lenient::string")]
    pub issuer: String,
    /// OAuth 2.0 presets: where the browser is sent to sign in.
    #[serde(deserialize_with = "lenient::string")]
    pub authorization_url: String,
    /// OAuth 2.0 presets: where the code is exchanged for an access token.
    #[serde(deserialize_with = "lenient::string")]
    pub token_url: String,
    /// OAuth 2.0 presets: the endpoint that names the user, read with the access token.
    #[serde(deserialize_with = "lenient::string")]
    pub user_url: String,
    /// OAuth 2.0 presets: the field of the user endpoint's JSON holding the stable user id
    /// (dotted for nested objects, e.g. `data.id`).
    #[serde(deserialize_with = "lenient::string")]
    pub user_id_field: String,
    /// Scopes asked for (OpenID Connect adds `openid` itself).
    #[serde(deserialize_with = "lenient::string_list")]
    pub scopes: Vec<String>,
    /// `basic` or `post` (preset default when unset).
    pub token_auth: Option<TokenAuth>,
    /// Ask for `response_mode=form_post`: the provider POSTs the code to the callback
    /// (Apple's preset does).
    pub form_post: Option<bool>,
    /// Apple: the team id (10 characters) that owns the key.
    #[serde(deserialize_with = "lenient::string")]
    pub team_id: String,
    /// Apple: the key id of `private_key_file`.
    #[serde(deserialize_with = "lenient::string")]
    pub key_id: String,
    /// Apple: the `.p8` key (PKCS#8 PEM, P-256) that signs the client-secret JWT.
    pub private_key_file: Option<PathBuf>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("enabled", &self.enabled)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("issuer", &self.issuer)
            .field("authorization_url", &self.authorization_url)
            .field("token_url", &self.token_url)
            .field("user_url", &self.user_url)
            .field("user_id_field", &self.user_id_field)
            .field("scopes", &self.scopes)
            .field("token_auth", &self.token_auth)
            .field("form_post", &self.form_post)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("private_key_file", &self.private_key_file)
            .finish()
    }
}

fn oauth2_preset(
    issuer: &str,
    authorization_url: &str,
    token_url: &str,
    user_url: &str,
    user_id_field: &str,
    scopes: &[&str],
    token_auth: TokenAuth,
) -> ProviderConfig {
    ProviderConfig {
        issuer: issuer.to_owned(),
        authorization_url: authorization_url.to_owned(),
        token_url: token_url.to_owned(),
        user_url: user_url.to_owned(),
        user_id_field: user_id_field.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        token_auth: Some(token_auth),
        form_post: Some(false),
        ..ProviderConfig::default()
    }
}

/// `[social]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SocialConfig {
    /// This server's callback as the browser reaches it, registered at every provider:
    /// `https://wallet.example.com/v1/auth/social/callback`. Required once a provider is on.
    #[serde(deserialize_with = "lenient::string")]
    pub callback_url: String,
    /// Create an account for a social identity no account has yet (else such a sign-in is
    /// refused and the identity can only be linked from a signed-in account).
    pub create_accounts: bool,
    /// Client redirect URIs accepted besides `http://127.0.0.1`, `http://[::1]` and
    /// `http://localhost` on any port (RFC 8252 loopback): exact matches.
    #[serde(deserialize_with = "lenient::string_list")]
    pub redirect_uris: Vec<String>,
    /// A generic OpenID Connect provider (`oidc`).
    pub oidc: ProviderConfig,
    pub google: ProviderConfig,
    pub apple: ProviderConfig,
    pub x: ProviderConfig,
    pub discord: ProviderConfig,
    pub facebook: ProviderConfig,
}

impl Default for SocialConfig {
    fn default() -> Self {
        let mut c = Self {
            callback_url: String::new(),
            create_accounts: true,
            redirect_uris: Vec::new(),
            oidc: ProviderConfig::default(),
            google: ProviderConfig::default(),
            apple: ProviderConfig::default(),
            x: ProviderConfig::default(),
            discord: ProviderConfig::default(),
            facebook: ProviderConfig::default(),
        };
        c.fill_presets();
        c
    }
}

fn oidc_preset(issuer: &str, token_auth: TokenAuth, form_post: bool) -> ProviderConfig {
    ProviderConfig {
        issuer: issuer.to_owned(),
        token_auth: Some(token_auth),
        form_post: Some(form_post),
        ..ProviderConfig::default()
    }
}

/// A preset's defaults.
fn preset(name: &str) -> ProviderConfig {
    match name {
        "google" => oidc_preset("https://accounts.google.com", TokenAuth::Basic, false),
        "apple" => oidc_preset("https://appleid.apple.com", TokenAuth::Post, true),
        "x" => oauth2_preset(
            "https://x.com",
            "https://x.com/i/oauth2/authorize",
            "https://api.x.com/2/oauth2/token",
            "https://api.x.com/2/users/me",
            "data.id",
            &["users.read", "tweet.read"],
            TokenAuth::Basic,
        ),
        "discord" => oauth2_preset(
            "https://discord.com",
            "https://discord.com/oauth2/authorize",
            "https://discord.com/api/oauth2/token",
            "https://discord.com/api/users/@me",
            "id",
            &["identify"],
            TokenAuth::Basic,
        ),
        "facebook" => oauth2_preset(
            "https://www.facebook.com",
            "https://www.facebook.com/v19.0/dialog/oauth",
            "https://graph.facebook.com/v19.0/oauth/access_token",
            "https://graph.facebook.com/me?fields=id",
            "id",
            &["public_profile"],
            TokenAuth::Post,
        ),
        _ => oidc_preset("", TokenAuth::Basic, false),
    }
}

/// Whether a provider speaks OpenID Connect (ID tokens) or plain OAuth 2.0 (a user endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Oidc,
    OAuth2,
}

/// The provider names, as clients send them.
pub const PROVIDERS: &[&str] = &["oidc", "google", "apple", "x", "discord", "facebook"];

impl SocialConfig {
    /// A provider's settings and protocol by name.
    pub fn provider(&self, name: &str) -> Option<(&ProviderConfig, Protocol)> {
        Some(match name {
            "oidc" => (&self.oidc, Protocol::Oidc),
            "google" => (&self.google, Protocol::Oidc),
            "apple" => (&self.apple, Protocol::Oidc),
            "x" => (&self.x, Protocol::OAuth2),
            "discord" => (&self.discord, Protocol::OAuth2),
            "facebook" => (&self.facebook, Protocol::OAuth2),
            _ => return None,
        })
    }

    fn enabled(&self) -> impl Iterator<Item = (&'static str, &ProviderConfig, Protocol)> {
        PROVIDERS.iter().filter_map(|name| {
            let (p, protocol) = self.provider(name)?;
            p.enabled.then_some((*name, p, protocol))
        })
    }

    /// Fills what the file and the environment left unset with each preset's defaults
    /// (serde fills a partly given section from `ProviderConfig::default`, not the preset).
    pub fn fill_presets(&mut self) {
        for name in PROVIDERS {
            let d = preset(name);
            let p = match *name {
                "oidc" => &mut self.oidc,
                "google" => &mut self.google,
                "apple" => &mut self.apple,
                "x" => &mut self.x,
                "discord" => &mut self.discord,
                _ => &mut self.facebook,
            };
            for (field, default) in [
                (&mut p.issuer, d.issuer),
                (&mut p.authorization_url, d.authorization_url),
                (&mut p.token_url, d.token_url),
                (&mut p.user_url, d.user_url),
                (&mut p.user_id_field, d.user_id_field),
            ] {
                if field.trim().is_empty() {
                    *field = default;
                }
            }
            if p.scopes.is_empty() {
                p.scopes = d.scopes;
            }
            p.token_auth = p.token_auth.or(d.token_auth);
            p.form_post = p.form_post.or(d.form_post);
        }
    }

    /// Whether any provider is on.
    pub fn any_enabled(&self) -> bool {
        self.enabled().next().is_some()
    }

    /// Checks formats; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            absolute_url(&format!("social.redirect_uris[{i}]"), uri)?;
        }
        if !self.any_enabled() {
            return Ok(());
        }
        absolute_url("social.callback_url", &self.callback_url)?;
        for (name, p, protocol) in self.enabled() {
            let key = |k: &str| format!("social.{name}.{k}");
            if p.client_id.trim().is_empty() {
                return Err(ConfigError::invalid(&key("client_id"), "is required"));
            }
            match protocol {
                Protocol::Oidc => {
                    absolute_url(&key("issuer"), &p.issuer)?;
                }
                Protocol::OAuth2 => {
                    if p.issuer.trim().is_empty() {
                        return Err(ConfigError::invalid(&key("issuer"), "must not be empty"));
                    }
                    absolute_url(&key("authorization_url"), &p.authorization_url)?;
                    absolute_url(&key("token_url"), &p.token_url)?;
                    absolute_url(&key("user_url"), &p.user_url)?;
                    if p.user_id_field.trim().is_empty() {
                        return Err(ConfigError::invalid(&key("user_id_field"), "is required"));
                    }
                }
            }
            if name == "apple" {
                if p.team_id.trim().is_empty() || p.key_id.trim().is_empty() {
                    return Err(ConfigError::invalid(
                        &key("team_id"),
                        "team_id and key_id are required for Apple",
                    ));
                }
                if p.private_key_file.is_none() {
                    return Err(ConfigError::invalid(
                        &key("private_key_file"),
                        "is required for Apple (the .p8 key that signs the client secret)",
                    ));
                }
            } else if p.client_secret.is_none() {
                return Err(ConfigError::invalid(&key("client_secret"), "is required"));
            }
        }
        Ok(())
    }

    /// What production mode refuses: provider traffic or redirects in plaintext.
    pub fn production_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.any_enabled() {
            return out;
        }
        if !is_https(&self.callback_url) {
            out.push(format!(
                "social.callback_url is `{}`: providers would send sign-in codes back in \
                 plaintext; use the https URL of /v1/auth/social/callback",
                self.callback_url
            ));
        }
        for uri in &self.redirect_uris {
            if !is_https(uri) {
                out.push(format!(
                    "social.redirect_uris has `{uri}`: one-time sign-in codes would cross the \
                     network in plaintext; list https URLs only (loopback needs no listing)"
                ));
            }
        }
        for (name, p, protocol) in self.enabled() {
            let urls: Vec<(&str, &str)> = match protocol {
                Protocol::Oidc => vec![("issuer", p.issuer.as_str())],
                Protocol::OAuth2 => vec![
                    ("authorization_url", p.authorization_url.as_str()),
                    ("token_url", p.token_url.as_str()),
                    ("user_url", p.user_url.as_str()),
                ],
            };
            for (k, url) in urls {
                if !is_https(url) {
                    out.push(format!(
                        "social.{name}.{k} is `{url}`: provider traffic (codes, tokens) must \
                         use https"
                    ));
                }
            }
        }
        out
    }
}

fn absolute_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim()).map_err(|_| {
        ConfigError::invalid(key, format!("`{text}` is not an absolute http(s) URL"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::invalid(
            key,
            format!("`{text}` is not an absolute http(s) URL"),
        ));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must have no fragment and no user name or password",
        ));
    }
    Ok(url)
}

fn is_https(text: &str) -> bool {
    Url::parse(text.trim()).is_ok_and(|u| u.scheme() == "https")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(p: &mut ProviderConfig) {
        p.enabled = true;
        p.client_id = "id".into();
        p.client_secret = Some(SecretString::from("s".to_owned()));
    }

    #[test]
    fn defaults_are_valid_and_off() {
        let c = SocialConfig::default();
        assert!(c.validate().is_ok());
        assert!(!c.any_enabled());
        assert!(c.production_problems().is_empty());
    }

    #[test]
    fn a_partly_given_section_keeps_its_preset() {
        let mut c = SocialConfig {
            discord: ProviderConfig {
                client_id: "id".into(),
                user_url: "http://127.0.0.1:9/me".into(),
                ..ProviderConfig::default()
            },
            apple: ProviderConfig::default(),
            ..SocialConfig::default()
        };
        c.fill_presets();
        assert_eq!(c.discord.issuer, "https://discord.com");
        assert_eq!(c.discord.user_url, "http://127.0.0.1:9/me");
        assert_eq!(c.discord.scopes, ["identify"]);
        assert_eq!(c.apple.form_post, Some(true));
        assert_eq!(c.apple.token_auth, Some(TokenAuth::Post));
    }

    #[test]
    fn an_enabled_provider_needs_its_settings() {
        let mut c = SocialConfig::default();
        on(&mut c.google);
        let err = c.validate().err().map(|e| e.key().map(str::to_owned));
        assert_eq!(err, Some(Some("social.callback_url".to_owned())));
        c.callback_url = "https://w.example/v1/auth/social/callback".into();
        assert!(c.validate().is_ok());
        on(&mut c.oidc);
        let err = c.validate().err().map(|e| e.key().map(str::to_owned));
        assert_eq!(err, Some(Some("social.oidc.issuer".to_owned())));
        c.oidc.issuer = "http://127.0.0.1:9/".into();
        assert!(c.validate().is_ok());
        assert_eq!(c.production_problems().len(), 1);
        c.apple.enabled = true;
        c.apple.client_id = "svc".into();
        let err = c.validate().err().map(|e| e.key().map(str::to_owned));
        assert_eq!(err, Some(Some("social.apple.team_id".to_owned())));
    }
}

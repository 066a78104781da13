//! The session token: `tdm_` + base64url (no padding) of 32 random bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::SessionError;

const PREFIX: &str = "tdm_";
const TOKEN_BYTES: usize = 32;

/// A session token: zeroized on drop, `[redacted]` in Debug, no Display.
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// A fresh token from the OS CSPRNG.
    pub(super) fn generate() -> Result<Self, SessionError> {
        let mut raw = Zeroizing::new([0u8; TOKEN_BYTES]);
        getrandom::fill(raw.as_mut_slice()).map_err(|_| SessionError::Random)?;
        let mut text = Zeroizing::new(String::with_capacity(PREFIX.len() + 43));
        text.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(raw.as_slice(), &mut text);
        Ok(Self(text))
    }

    /// The token text, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// The stored form of a token: SHA-256 of its 32 random bytes. `None` if malformed.
pub(super) fn hash(token: &str) -> Option<Vec<u8>> {
    let body = token.strip_prefix(PREFIX)?;
    if body.len() != 43 {
        return None;
    }
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).ok()?);
    (raw.len() == TOKEN_BYTES).then(|| Sha256::digest(raw.as_slice()).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_hash() {
        let Ok(t) = SessionToken::generate() else {
            panic!("no randomness")
        };
        assert!(t.expose().starts_with("tdm_"));
        assert_eq!(t.expose().len(), 47);
        assert!(hash(t.expose()).is_some());
        assert!(hash("tdm_short").is_none());
        assert!(hash(&t.expose().replacen("tdm_", "xyz_", 1)).is_none());
        assert_eq!(format!("{t:?}"), "SessionToken([redacted])");
    }
}

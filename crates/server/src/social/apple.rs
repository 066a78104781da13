//! Apple's client secret: not a fixed string but a short JWT (ES256) signed with the team's
//! `.p8` key, naming the team (`iss`), the Services ID (`sub`) and Apple (`aud`). Apple refuses
//! one that lives longer than six months; we make a fresh one for each token request, valid
//! for minutes, so a leaked one is soon worthless.

use data_encoding::BASE64URL_NOPAD;
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use p256::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

use super::SocialError;
use crate::config::APPLE_MAX_SECRET_SECS;

/// The audience Apple expects in a client secret.
pub const AUDIENCE: &str = "https://appleid.apple.com";

/// How long each client secret lives.
const LIFETIME_SECS: i64 = 600;

/// The team's key and the names the JWT carries.
pub struct AppleSigner {
    key: SigningKey,
    team_id: String,
    key_id: String,
    client_id: String,
}

impl std::fmt::Debug for AppleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleSigner")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl AppleSigner {
    /// Reads the key from its PKCS#8 PEM text (the `.p8` file Apple hands out).
    pub fn from_pem(
        pem: &str,
        team_id: &str,
        key_id: &str,
        client_id: &str,
    ) -> Result<Self, SocialError> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| SocialError::AppleKey("not a PKCS#8 PEM P-256 key".to_owned()))?;
        Ok(Self {
            key,
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            client_id: client_id.to_owned(),
        })
    }

    /// Reads the key file.
    pub fn from_file(
        path: &std::path::Path,
        team_id: &str,
        key_id: &str,
        client_id: &str,
    ) -> Result<Self, SocialError> {
        let pem =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                SocialError::AppleKey(format!("cannot read {}: {e}", path.display()))
            })?);
        Self::from_pem(&pem, team_id, key_id, client_id)
    }

    /// A client secret issued at `now_secs` (Unix seconds).
    pub fn client_secret(&self, now_secs: i64) -> Zeroizing<String> {
        let lifetime = LIFETIME_SECS.min(i64::try_from(APPLE_MAX_SECRET_SECS).unwrap_or(i64::MAX));
        let header = serde_json::json!({"alg": "ES256", "kid": self.key_id, "typ": "JWT"});
        let claims = serde_json::json!({
            "iss": self.team_id,
            "iat": now_secs,
            "exp": now_secs.saturating_add(lifetime),
            "aud": AUDIENCE,
            "sub": self.client_id,
        });
        let mut jwt = Zeroizing::new(format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header.to_string().as_bytes()),
            BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
        ));
        // ES256 in a JWS is the fixed 64-byte r ‖ s, not DER.
        let signature: Signature = self.key.sign(jwt.as_bytes());
        jwt.push('.');
        jwt.push_str(&BASE64URL_NOPAD.encode(&signature.to_bytes()));
        jwt
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&BASE64URL_NOPAD.decode(part.as_bytes()).unwrap()).unwrap()
    }

    /// The claims Apple checks, and a signature that an independent implementation (ring)
    /// accepts under the key's public half.
    #[test]
    fn client_secret_claims_and_signature() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        seed[0] = 1;
        let key = SigningKey::from_slice(&seed).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let signer =
            AppleSigner::from_pem(&pem, "TEAM123456", "KEY1234567", "com.example.svc").unwrap();
        let now = 1_767_225_600;
        let jwt = signer.client_secret(now);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "KEY1234567");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "com.example.svc");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
        assert_eq!(claims["iat"], now);
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now && exp - now <= i64::try_from(APPLE_MAX_SECRET_SECS).unwrap());

        let public = key.verifying_key().to_sec1_point(false);
        let verifier = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            public.as_bytes(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        let sig = BASE64URL_NOPAD.decode(parts[2].as_bytes()).unwrap();
        verifier.verify(signed.as_bytes(), &sig).unwrap();
        let mut bad = sig.clone();
        bad[5] ^= 1;
        assert!(verifier.verify(signed.as_bytes(), &bad).is_err());
    }

    #[test]
    fn a_key_that_is_not_p256_pkcs8_is_refused() {
        assert!(matches!(
            AppleSigner::from_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "t",
                "k",
                "c"
            ),
            Err(SocialError::AppleKey(_))
        ));
    }
}

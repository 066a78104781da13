//! A JSON body extractor whose rejections are API errors naming the offending field.
//!
//! Bodies are read strictly (security bar I2): unknown fields are refused by the types
//! (`deny_unknown_fields`), nesting deeper than serde_json's limit (128) is refused by the
//! parser, and a key repeated in any object is refused here before the body is read into its
//! type. serde_json alone keeps the last of two equal keys inside free-form values (EIP-712
//! typed data): two readers of one body (a wallet UI, a policy engine, the signer) must never
//! see different documents.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use tandem_proto::{ApiError, ErrorCode};

use super::error::HttpError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::new(ErrorCode::PayloadTooLarge, "request body too large")
            } else {
                HttpError::new(ErrorCode::InvalidRequest, "could not read the request body")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses `bytes` as one `T`, strictly (see the module documentation). Also used for the
/// ceremony socket's control messages.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    typed::<UniqueKeys>(bytes)?;
    typed(bytes)
}

fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(rejection)?;
    // Trailing data after the document (a second document, say) is refused too.
    de.end().map_err(|_| {
        HttpError::new(
            ErrorCode::InvalidRequest,
            "the body is not valid JSON: trailing characters after the document",
        )
    })?;
    Ok(value)
}

fn rejection(e: serde_path_to_error::Error<serde_json::Error>) -> HttpError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let text = inner.to_string();
    let message = if text.starts_with("recursion limit exceeded") {
        "the body is nested too deeply (at most 128 levels)".to_owned()
    } else if inner.is_syntax() || inner.is_eof() {
        "the body is not valid JSON".to_owned()
    } else {
        // serde_json appends " at line L column C"; the field path says more.
        text.split(" at line ").next().unwrap_or(&text).to_owned()
    };
    let mut api = ApiError::new(ErrorCode::InvalidRequest, message);
    let top = path == "." || path.is_empty();
    if let Some(key) = named_key(&text) {
        // Reported at the enclosing object's path (inside an internally tagged enum serde
        // cannot tell more than the key itself).
        api.field = Some(if top || path.ends_with(&key) {
            key
        } else {
            format!("{path}.{key}")
        });
    } else if !top {
        api.field = Some(path);
    } else if let Some(field) = missing_field(&text) {
        api.field = Some(field);
    }
    HttpError(api)
}

/// serde reports a missing field at the parent's path; pull its name out of the message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

const DUPLICATE: &str = "duplicate key `";

/// The key a repeated-key or unknown-field refusal is about.
fn named_key(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix(DUPLICATE)
        .or_else(|| message.strip_prefix("unknown field `"))?;
    Some(rest.split('`').next()?.to_owned())
}

/// Any JSON document whose objects each have distinct keys.
struct UniqueKeys;

impl<'de> de::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "{DUPLICATE}{key}` (each key may appear once per object)"
                )));
            }
            map.next_value::<UniqueKeys>()?;
            seen.insert(key);
        }
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        a: serde_json::Value,
    }

    fn refusal(text: &str) -> (String, Option<String>) {
        match parse::<Body>(text.as_bytes()) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => (e.0.message, e.0.field),
        }
    }

    #[test]
    fn strict_bodies() {
        assert!(parse::<Body>(br#"{"a":{"b":1,"c":[{"b":2}]}}"#).is_ok());
        let (m, f) = refusal(r#"{"a":1,"a":2}"#);
        assert!(m.contains("duplicate key `a`"), "{m}");
        assert_eq!(f.as_deref(), Some("a"));
        let (m, f) = refusal(r#"{"a":{"x":{"k":1,"k":2}}}"#);
        assert!(m.contains("duplicate key `k`"), "{m}");
        assert_eq!(f.as_deref(), Some("a.x.k"));
        let (m, f) = refusal(r#"{"a":1,"b":2}"#);
        assert!(m.contains("unknown field `b`"), "{m}");
        assert_eq!(f.as_deref(), Some("b"));
        let (m, f) = refusal(r#"{"a":[1,2],"a":[]}"#);
        assert!(m.contains("duplicate key `a`"), "{m}");
        assert_eq!(f.as_deref(), Some("a"));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000));
        let (m, _) = refusal(&deep);
        assert!(m.contains("nested too deeply"), "{m}");
        let (m, _) = refusal(r#"{"a":1} {"a":2}"#);
        assert!(m.contains("trailing"), "{m}");
    }
}

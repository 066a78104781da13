//! EIP-712 typed data as sent to `eth_signTypedData_v4`.

use alloy_dyn_abi::TypedData;
use serde_json::Value;

use super::intent::Intent;
use super::prepared::{Payload, Prepared};
use super::typed_data_checks;
use crate::error::{ChainError, ErrorKind};

pub(crate) const FIELD: &str = "typed_data";

/// Largest accepted typed-data JSON. Real requests (permits, orders) are a few
/// KiB; the limit keeps parsing and hashing cheap for the server.
pub const MAX_TYPED_DATA_BYTES: usize = 256 * 1024;

/// Prepares EIP-712 typed data given as JSON in the `eth_signTypedData_v4`
/// shape: `{"types": {"EIP712Domain": [...], ...}, "primaryType": "...",
/// "domain": {...}, "message": {...}}`. A JSON string containing that object
/// (as some dapps send it) is accepted too.
///
/// The digest is `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`,
/// computed by alloy-dyn-abi (`TypedData::eip712_signing_hash`).
///
/// Beyond what alloy checks, this refuses ambiguous input (see the
/// `typed_data_checks` module): `types.EIP712Domain` must declare exactly the
/// domain fields present, in EIP-712 order; unknown domain keys and
/// non-integer or over-64-bit JSON numbers are refused. Errors are
/// [`ErrorKind::InvalidTypedData`], or [`ErrorKind::TooLarge`] above
/// [`MAX_TYPED_DATA_BYTES`].
pub fn prepare_typed_data(json: &str) -> Result<Prepared, ChainError> {
    if json.len() > MAX_TYPED_DATA_BYTES {
        return Err(ChainError::new(
            ErrorKind::TooLarge,
            FIELD,
            format!("typed data is larger than {MAX_TYPED_DATA_BYTES} bytes"),
        ));
    }
    let mut value: Value = serde_json::from_str(json).map_err(json_error)?;
    // Some dapps pass the typed data as a JSON string holding the JSON object.
    // The inner string is shorter than `json`, so the size limit still holds.
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner).map_err(json_error)?;
    }
    let object = value
        .as_object()
        .ok_or_else(|| invalid("typed data must be a JSON object".to_owned()))?;
    typed_data_checks::check(object)?;

    let typed: TypedData = serde_json::from_value(value).map_err(json_error)?;
    let digest = typed
        .eip712_signing_hash()
        .map_err(|e| invalid(format!("cannot hash typed data: {e}")))?;

    let chain_id = typed
        .domain
        .chain_id
        .map(|id| {
            u64::try_from(id).map_err(|_| invalid("domain.chainId does not fit in 64 bits".into()))
        })
        .transpose()?;
    Ok(Prepared {
        digest: digest.0,
        intent: Intent::TypedData {
            primary_type: typed.primary_type.clone(),
            domain_name: typed.domain.name.as_ref().map(|name| name.to_string()),
            chain_id,
            verifying_contract: typed
                .domain
                .verifying_contract
                .map(|address| address.to_checksum(None)),
        },
        payload: Payload::Message,
    })
}

fn json_error(error: serde_json::Error) -> ChainError {
    invalid(format!("malformed typed data: {error}"))
}

fn invalid(detail: String) -> ChainError {
    ChainError::new(ErrorKind::InvalidTypedData, FIELD, detail)
}

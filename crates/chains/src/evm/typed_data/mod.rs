//! EIP-712 typed data as sent to `eth_signTypedData_v4`.
//!
//! Our own encoder (`hashStruct` / `encodeType` / `encodeData` as the EIP
//! defines them), using alloy only for keccak256, addresses and 256-bit
//! integers. Written for hostile input: every bound in [`limits`] is checked
//! before the part it protects is processed, the type graph is walked only
//! with work lists, value nesting is capped, and every refusal names the
//! place (`message.items[2].to`) and the reason.

mod atomic;
mod domain;
mod path;
mod types;
mod values;

use alloy_primitives::Keccak256;
use serde_json::Value;

use self::path::Path;
use self::types::Types;
use self::values::Encoder;
use super::intent::Intent;
use super::prepared::{Payload, Prepared};
use crate::error::{ChainError, ErrorKind};

pub(crate) const FIELD: &str = "typed_data";

/// Largest accepted typed-data JSON. Real requests (permits, orders) are a few
/// KiB; the limit keeps parsing and hashing cheap for the server.
pub const MAX_TYPED_DATA_BYTES: usize = 256 * 1024;

/// Bounds on the shape of typed data, each far above what real requests use
/// (Seaport orders, Permit2 batches and UniswapX orders need under 10 struct
/// types, 20 fields per struct, 2 array dimensions and 6 levels of nesting).
pub mod limits {
    /// Struct types in `types`, `EIP712Domain` included.
    pub const MAX_STRUCT_TYPES: usize = 128;
    /// Fields of one struct.
    pub const MAX_FIELDS_PER_STRUCT: usize = 128;
    /// Fields of all structs together.
    pub const MAX_TOTAL_FIELDS: usize = 1024;
    /// Bytes of a type or field name.
    pub const MAX_NAME_BYTES: usize = 128;
    /// Array dimensions of one field type (`uint8[][]` has 2).
    pub const MAX_ARRAY_DIMENSIONS: usize = 8;
    /// Length of a fixed-size array type (`T[N]`).
    pub const MAX_FIXED_ARRAY_LENGTH: usize = 65_536;
    /// Total length of the `encodeType` strings of all structs hashed for one
    /// request: the type hashing work, whatever the shape of the type graph.
    pub const MAX_ENCODED_TYPES_BYTES: usize = 256 * 1024;
    /// Struct and array levels of nesting in `message` (and `domain`).
    pub const MAX_VALUE_DEPTH: usize = 64;
    /// JSON values (structs, arrays, atomic values) encoded for one request.
    pub const MAX_VALUES: usize = 262_144;
}

/// Prepares EIP-712 typed data given as JSON in the `eth_signTypedData_v4`
/// shape: `{"types": {"EIP712Domain": [...], ...}, "primaryType": "...",
/// "domain": {...}, "message": {...}}`. A JSON string containing that object
/// (as some dapps send it) is accepted too.
///
/// The digest is `keccak256(0x1901 ‖ hashStruct(EIP712Domain, domain) ‖
/// hashStruct(primaryType, message))`.
///
/// Beyond the EIP, this refuses ambiguous input: `types.EIP712Domain` must
/// declare exactly the domain fields present, in EIP-712 order; unknown or
/// null domain fields, missing, null or unknown message fields, fixed-size
/// arrays of the wrong length, loosely written values (see the `atomic`
/// module) and non-integer or over-64-bit JSON numbers are refused. Errors
/// are [`ErrorKind::InvalidTypedData`] (the detail starts with the path of
/// the offending part), or [`ErrorKind::TooLarge`] above
/// [`MAX_TYPED_DATA_BYTES`].
pub fn prepare_typed_data(json: &str) -> Result<Prepared, ChainError> {
    if json.len() > MAX_TYPED_DATA_BYTES {
        return Err(ChainError::new(
            ErrorKind::TooLarge,
            FIELD,
            format!("typed data is larger than {MAX_TYPED_DATA_BYTES} bytes"),
        ));
    }
    // serde_json refuses nesting deeper than 128 levels, so neither parsing
    // nor dropping the value can exhaust the stack.
    let mut value: Value = serde_json::from_str(json).map_err(json_error)?;
    // Some dapps pass the typed data as a JSON string holding the JSON object.
    // The inner string is shorter than `json`, so the size limit still holds.
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner).map_err(json_error)?;
    }
    let object = value
        .as_object()
        .ok_or_else(|| invalid("typed data must be a JSON object"))?;
    let raw_types = object
        .get("types")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("types: expected an object"))?;
    let primary = object
        .get("primaryType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("primaryType: expected a string"))?;
    let domain_value = object
        .get("domain")
        .filter(|domain| domain.is_object())
        .ok_or_else(|| invalid("domain: expected an object"))?;
    let domain = domain_value
        .as_object()
        .ok_or_else(|| invalid("domain: expected an object"))?;
    let message = object
        .get("message")
        .ok_or_else(|| invalid("message: required"))?;

    let mut types = Types::parse(raw_types)?;
    let domain_index = domain::check(domain, raw_types, &types)?;
    let primary_index = match types.index(primary) {
        Some(index) if index != domain_index => index,
        Some(_) => {
            return Err(invalid(
                "primaryType: `EIP712Domain` cannot be the primary type",
            ));
        }
        None if primary.len() <= limits::MAX_NAME_BYTES => {
            return Err(invalid(format!(
                "primaryType: `{primary}` is not defined in `types`"
            )));
        }
        None => return Err(invalid("primaryType: not defined in `types`")),
    };
    types.compute_hashes(&[domain_index, primary_index])?;

    let mut encoder = Encoder::new(&types);
    let domain_hash = encoder.hash_struct(domain_index, domain_value, &Path::root("domain"), 0)?;
    let message_hash = encoder.hash_struct(primary_index, message, &Path::root("message"), 0)?;
    let mut hasher = Keccak256::new();
    hasher.update([0x19, 0x01]);
    hasher.update(domain_hash);
    hasher.update(message_hash);
    let digest = hasher.finalize();

    Ok(Prepared {
        digest: digest.0,
        intent: intent(primary, domain)?,
        payload: Payload::Message,
    })
}

/// The intent, read from the domain values already checked by the encoder.
fn intent(primary: &str, domain: &serde_json::Map<String, Value>) -> Result<Intent, ChainError> {
    let chain_id = domain
        .get("chainId")
        .map(|value| {
            let (_, id) = atomic::integer(value).map_err(invalid)?;
            u64::try_from(id).map_err(|_| invalid("domain.chainId: does not fit in 64 bits"))
        })
        .transpose()?;
    let verifying_contract = domain
        .get("verifyingContract")
        .and_then(Value::as_str)
        .map(|text| atomic::address(text).map(|address| address.to_checksum(None)))
        .transpose()
        .map_err(invalid)?;
    Ok(Intent::TypedData {
        primary_type: primary.to_owned(),
        domain_name: domain
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        chain_id,
        verifying_contract,
    })
}

fn json_error(error: serde_json::Error) -> ChainError {
    invalid(format!("malformed typed data: {error}"))
}

fn invalid(detail: impl Into<String>) -> ChainError {
    ChainError::new(
        ErrorKind::InvalidTypedData,
        FIELD,
        path::printable(&detail.into()),
    )
}

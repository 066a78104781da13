//! The domain: which fields it may have, and that `types.EIP712Domain`
//! declares exactly those.
//!
//! eth-account hashes the domain with the fields present, in the order
//! EIP-712 lists them, whatever `types.EIP712Domain` says; MetaMask hashes it
//! as declared. Where the two would differ, one JSON has two digests and
//! what the user reviewed may not be what the contract checks, so the
//! declaration must match the present fields, in EIP-712 order, exactly.

use serde_json::{Map, Value};

use super::path::Path;
use super::types::{DOMAIN_TYPE, Types};
use crate::error::ChainError;

/// The EIP-712 domain fields in the order the EIP defines, with their types.
const DOMAIN_FIELDS: [(&str, &str); 5] = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
];

/// Checks the domain object against the standard fields and the declaration;
/// returns the index of the `EIP712Domain` struct.
pub(super) fn check(
    domain: &Map<String, Value>,
    raw_types: &Map<String, Value>,
    types: &Types,
) -> Result<usize, ChainError> {
    let root = Path::root("domain");
    for (key, value) in domain {
        if !DOMAIN_FIELDS.iter().any(|(name, _)| name == key) {
            return Err(root.key(key).invalid(
                "not an EIP-712 domain field (name, version, chainId, verifyingContract, salt)",
            ));
        }
        if value.is_null() {
            return Err(root
                .key(key)
                .invalid("null is not a value; leave the field out"));
        }
    }
    let present: Vec<(&str, &str)> = DOMAIN_FIELDS
        .iter()
        .copied()
        .filter(|(name, _)| domain.contains_key(*name))
        .collect();

    let declared_path = Path::root("types");
    let declared_path = declared_path.key(DOMAIN_TYPE);
    let index = types
        .index(DOMAIN_TYPE)
        .ok_or_else(|| declared_path.invalid("required (it declares the domain's fields)"))?;
    // Compare the declared type strings as written: `Types` already refused anything malformed.
    let declared: Vec<(&str, &str)> = raw_types
        .get(DOMAIN_TYPE)
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|field| {
                    field
                        .get("name")
                        .and_then(Value::as_str)
                        .zip(field.get("type").and_then(Value::as_str))
                })
                .collect()
        })
        .unwrap_or_default();
    if declared != present {
        return Err(declared_path.invalid(
            "must declare exactly the fields present in `domain`, in EIP-712 order \
             (name, version, chainId, verifyingContract, salt), with their standard types",
        ));
    }
    Ok(index)
}

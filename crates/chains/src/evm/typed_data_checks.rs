//! Checks that make an EIP-712 request unambiguous before we hash it.
//!
//! alloy hashes the domain from its own `Eip712Domain` struct: the known
//! fields that are present, in the order EIP-712 lists them. It ignores
//! `types.EIP712Domain` and unknown domain keys. Other implementations
//! (MetaMask's eth-sig-util, ethers) hash the domain as declared in
//! `types.EIP712Domain`. When the two disagree, the same JSON has two digests,
//! and what the user reviewed may not be what the contract checks. So we
//! require the declaration to match exactly what alloy will hash.
//!
//! Separately, JSON numbers that are not integers within 64 bits are refused:
//! serde_json (like JavaScript) turns them into lossy floats, so a large
//! `uint256` written as a number could be signed with a different value than
//! the one shown. Wallet libraries send such values as strings.

use serde_json::{Map, Value};

use super::typed_data::FIELD;
use crate::error::{ChainError, ErrorKind};

/// The EIP-712 domain fields in the order the EIP defines, with their types.
const DOMAIN_FIELDS: [(&str, &str); 5] = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
];

/// Checks the top-level typed-data object before alloy parses it.
pub(crate) fn check(typed_data: &Map<String, Value>) -> Result<(), ChainError> {
    // Name the missing piece here; serde's message for these is opaque.
    if !typed_data.get("types").is_some_and(Value::is_object) {
        return Err(invalid("`types` must be an object"));
    }
    if !typed_data.get("primaryType").is_some_and(Value::is_string) {
        return Err(invalid("`primaryType` must be a string"));
    }
    check_domain(typed_data)?;
    if let Some(message) = typed_data.get("message") {
        check_numbers(message)?;
    }
    if let Some(domain) = typed_data.get("domain") {
        check_numbers(domain)?;
    }
    Ok(())
}

fn check_domain(typed_data: &Map<String, Value>) -> Result<(), ChainError> {
    let empty = Map::new();
    let domain = match typed_data.get("domain") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(domain)) => domain,
        Some(_) => return Err(invalid("`domain` must be an object")),
    };
    if let Some(key) = domain
        .keys()
        .find(|key| !DOMAIN_FIELDS.iter().any(|(name, _)| name == key))
    {
        return Err(invalid(&format!(
            "`domain.{key}` is not an EIP-712 domain field \
             (name, version, chainId, verifyingContract, salt)"
        )));
    }

    let present: Vec<(&str, &str)> = DOMAIN_FIELDS
        .iter()
        .copied()
        .filter(|(name, _)| domain.get(*name).is_some_and(|value| !value.is_null()))
        .collect();

    let declared = typed_data
        .get("types")
        .and_then(|types| types.get("EIP712Domain"))
        .ok_or_else(|| invalid("`types.EIP712Domain` is required"))?;
    let declared = declared
        .as_array()
        .ok_or_else(|| invalid("`types.EIP712Domain` must be an array"))?;
    let declared: Vec<(&str, &str)> = declared
        .iter()
        .map(|entry| {
            let name = entry.get("name").and_then(Value::as_str);
            let ty = entry.get("type").and_then(Value::as_str);
            name.zip(ty).ok_or_else(|| {
                invalid("`types.EIP712Domain` entries need a string `name` and `type`")
            })
        })
        .collect::<Result<_, _>>()?;

    if declared != present {
        return Err(invalid(
            "`types.EIP712Domain` must declare exactly the fields present in `domain`, \
             in EIP-712 order (name, version, chainId, verifyingContract, salt) \
             with their standard types",
        ));
    }
    Ok(())
}

/// Refuses JSON numbers that are not exact 64-bit integers. Recursion depth is
/// bounded by serde_json's own nesting limit (128) when the JSON was parsed.
fn check_numbers(value: &Value) -> Result<(), ChainError> {
    match value {
        Value::Number(number) if number.is_f64() => Err(invalid(
            "numbers must be integers that fit in 64 bits; send larger values as strings",
        )),
        Value::Array(items) => items.iter().try_for_each(check_numbers),
        Value::Object(fields) => fields.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

fn invalid(detail: &str) -> ChainError {
    ChainError::new(ErrorKind::InvalidTypedData, FIELD, detail)
}

//! Atomic values: how a JSON value becomes one 32-byte word of `encodeData`.
//!
//! Where the references (eth-account, MetaMask eth-sig-util) agree, we read a
//! value as they do; where they disagree or read something loosely (the
//! string `"false"` as a bool, a short hex string padded into `bytes32`, a
//! number as `bytes`), we refuse rather than pick one reading the user may
//! not expect. The choices are listed in `docs/server.md` (typed data).

use alloy_primitives::{Address, U256, keccak256};
use serde_json::Value;

use super::path::Path;
use super::types::Atomic;
use crate::error::ChainError;

type Word = [u8; 32];

pub(super) fn encode(atomic: Atomic, value: &Value, path: &Path<'_>) -> Result<Word, ChainError> {
    let refuse = |reason: String| path.invalid(reason);
    match atomic {
        Atomic::Bool => match value {
            Value::Bool(flag) => Ok(U256::from(u8::from(*flag)).to_be_bytes()),
            other => Err(refuse(expected("true or false (bool)", other))),
        },
        Atomic::Address => {
            let text = string(value, "an address (0x and 40 hex digits)", path)?;
            address(text).map(|a| a.into_word().0).map_err(refuse)
        }
        Atomic::String => Ok(keccak256(string(value, "a string", path)?.as_bytes()).0),
        Atomic::Bytes => {
            let text = string(value, "bytes (0x-hex, or text)", path)?;
            dynamic_bytes(text, |bytes| keccak256(bytes).0).map_err(refuse)
        }
        Atomic::FixedBytes(length) => {
            let what = format!("bytes{length} (0x and {} hex digits)", 2 * length);
            let text = string(value, &what, path)?;
            let digits = text
                .strip_prefix("0x")
                .filter(|digits| digits.len() == 2 * length)
                .ok_or_else(|| refuse(format!("expected {what}")))?;
            let mut word = [0u8; 32];
            hex::decode_to_slice(digits, &mut word[..length])
                .map_err(|_| refuse(format!("expected {what}")))?;
            Ok(word)
        }
        Atomic::Uint(bits) | Atomic::Int(bits) => {
            let (negative, magnitude) = integer(value).map_err(refuse)?;
            let signed = matches!(atomic, Atomic::Int(_));
            integer_word(negative, magnitude, signed, bits).map_err(refuse)
        }
    }
}

fn string<'v>(value: &'v Value, what: &str, path: &Path<'_>) -> Result<&'v str, ChainError> {
    value
        .as_str()
        .ok_or_else(|| path.invalid(expected(what, value)))
}

pub(super) fn expected(what: &str, found: &Value) -> String {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("expected {what}, found {found}")
}

/// `0x`-prefixed lowercase-`x` even-length hex is bytes; any other string is
/// its UTF-8 text (eth-account and eth-sig-util both hash `"deadbeef"` as
/// text). `0X…` and `0x` followed by non-hex are refused: the references
/// read those differently from what the sender likely meant.
fn dynamic_bytes(text: &str, hash: impl FnOnce(&[u8]) -> Word) -> Result<Word, String> {
    if let Some(digits) = text.strip_prefix("0x") {
        if digits.len() % 2 != 0 {
            return Err("expected bytes: odd number of hex digits after 0x".into());
        }
        let bytes = hex::decode(digits)
            .map_err(|_| "expected bytes: `0x` followed by something other than hex digits")?;
        Ok(hash(&bytes))
    } else if text.starts_with("0X") {
        Err("expected bytes: write hex with a lowercase `0x` prefix".into())
    } else {
        Ok(hash(text.as_bytes()))
    }
}

/// `0x` and 40 hex digits; mixed case must be a valid EIP-55 checksum.
pub(super) fn address(text: &str) -> Result<Address, String> {
    let what = "expected an address (0x and 40 hex digits)";
    let digits = text
        .strip_prefix("0x")
        .filter(|digits| digits.len() == 40)
        .ok_or(what)?;
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| what)?;
    let address = Address::from(bytes);
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    if has_upper && has_lower && address.to_checksum(None)[2..] != *digits {
        return Err("the address has mixed case but an invalid EIP-55 checksum".into());
    }
    Ok(address)
}

/// A JSON integer within 64 bits, a decimal string (optional `-`), or `0x`
/// and hex digits (never negative). Nothing else: no `""`, `"0x"`, `"_"`,
/// `"0b101"`, `"0o17"`, `"-0x10"`, `"+1"`, spaces or non-ASCII digits.
/// Returns (negative, magnitude).
pub(super) fn integer(value: &Value) -> Result<(bool, U256), String> {
    let text = match value {
        Value::Number(number) => {
            return if let Some(unsigned) = number.as_u64() {
                Ok((false, U256::from(unsigned)))
            } else if let Some(signed) = number.as_i64() {
                Ok((signed < 0, U256::from(signed.unsigned_abs())))
            } else {
                Err("numbers must be integers that fit in 64 bits; \
                     send larger values as strings"
                    .into())
            };
        }
        Value::String(text) => text,
        other => return Err(expected("an integer", other)),
    };
    let parsed = if let Some(hex) = text.strip_prefix("0x") {
        digits(hex, 16).map(|magnitude| (false, magnitude))
    } else if let Some(decimal) = text.strip_prefix('-') {
        digits(decimal, 10).map(|magnitude| (true, magnitude))
    } else {
        digits(text, 10).map(|magnitude| (false, magnitude))
    };
    parsed.ok_or_else(|| {
        "expected an integer: decimal digits with an optional leading `-`, \
         or `0x` and hex digits, within 256 bits"
            .into()
    })
}

fn digits(text: &str, radix: u8) -> Option<U256> {
    if text.is_empty() {
        return None;
    }
    let mut value = U256::ZERO;
    for byte in text.bytes() {
        let digit = char::from(byte).to_digit(u32::from(radix))?;
        value = value
            .checked_mul(U256::from(radix))?
            .checked_add(U256::from(digit))?;
    }
    Some(value)
}

fn integer_word(
    negative: bool,
    magnitude: U256,
    signed: bool,
    bits: usize,
) -> Result<Word, String> {
    let name = if signed { "int" } else { "uint" };
    let out_of_range = || format!("the value does not fit in {name}{bits}");
    if !signed {
        if negative && !magnitude.is_zero() {
            return Err(format!("a negative value cannot be a {name}{bits}"));
        }
        if bits < 256 && !(magnitude >> bits).is_zero() {
            return Err(out_of_range());
        }
        return Ok(magnitude.to_be_bytes());
    }
    let limit = U256::from(1u8) << (bits - 1);
    let fits = if negative {
        magnitude <= limit
    } else {
        magnitude < limit
    };
    if !fits {
        return Err(out_of_range());
    }
    let value = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    Ok(value.to_be_bytes())
}

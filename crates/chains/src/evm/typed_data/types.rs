//! The `types` section: which structs exist, their fields, and each struct's
//! `encodeType` / `typeHash` (EIP-712).
//!
//! Everything here is bounded before the type graph is walked, and the graph
//! is only ever walked with explicit work lists, never by recursion: a type
//! graph may be deep (a chain of structs), wide, or cyclic (EIP-712 allows
//! recursive types such as `Node { Node[] kids }`), and none of that can
//! exhaust the stack or make the work grow faster than the bounds allow.

use std::collections::HashMap;

use alloy_primitives::{B256, Keccak256};
use serde_json::{Map, Value};

use super::limits::{
    MAX_ARRAY_DIMENSIONS, MAX_ENCODED_TYPES_BYTES, MAX_FIELDS_PER_STRUCT, MAX_FIXED_ARRAY_LENGTH,
    MAX_NAME_BYTES, MAX_STRUCT_TYPES, MAX_TOTAL_FIELDS,
};
use super::path::Path;
use crate::error::ChainError;

/// The domain struct's reserved name.
pub(super) const DOMAIN_TYPE: &str = "EIP712Domain";

/// The EIP-712 atomic types, plus the two dynamic ones (`string`, `bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Atomic {
    Bool,
    Address,
    String,
    Bytes,
    /// `bytes1` .. `bytes32`: the length in bytes.
    FixedBytes(usize),
    /// `uint8` .. `uint256`: the width in bits.
    Uint(usize),
    /// `int8` .. `int256`: the width in bits.
    Int(usize),
}

impl Atomic {
    /// Only the canonical spelling: the type string is hashed as written, so
    /// `uint` (for `uint256`) or `bytes08` would give a type hash no contract uses.
    fn parse(name: &str) -> Option<Self> {
        match name {
            "bool" => Some(Self::Bool),
            "address" => Some(Self::Address),
            "string" => Some(Self::String),
            "bytes" => Some(Self::Bytes),
            _ => {
                if let Some(digits) = name.strip_prefix("bytes") {
                    canonical_number(digits)
                        .filter(|n| (1..=32).contains(n))
                        .map(Self::FixedBytes)
                } else if let Some(digits) = name.strip_prefix("uint") {
                    bits(digits).map(Self::Uint)
                } else if let Some(digits) = name.strip_prefix("int") {
                    bits(digits).map(Self::Int)
                } else {
                    None
                }
            }
        }
    }
}

fn bits(digits: &str) -> Option<usize> {
    canonical_number(digits).filter(|n| n % 8 == 0 && (8..=256).contains(n))
}

/// A positive decimal number without sign or leading zero, at most 7 digits.
fn canonical_number(digits: &str) -> Option<usize> {
    let canonical = !digits.is_empty()
        && digits.len() <= 7
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    canonical.then(|| digits.parse().ok()).flatten()
}

/// Names Solidity (or other EIP-712 implementations) read as built-in types:
/// a struct named like one would be encoded one way and hashed another.
fn is_builtin_name(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit() || b == b'x'))
    };
    Atomic::parse(name).is_some()
        || matches!(name, "function" | "byte" | "bool" | "address" | "string")
        || ["uint", "int", "bytes", "fixed", "ufixed"]
            .iter()
            .any(|prefix| numbered(prefix))
}

/// Letters, digits, `_` and `$`, not starting with a digit (Solidity identifiers).
/// Anything else (`,`, `(`, spaces, `[`) would make `encodeType` ambiguous.
fn check_identifier(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("the name is longer than {MAX_NAME_BYTES} bytes"));
    }
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
        return Err(format!(
            "`{name}` is not an identifier (letters, digits, `_` and `$`, not starting with a digit)"
        ));
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Base {
    Atomic(Atomic),
    /// Index into [`Types::structs`].
    Struct(usize),
}

/// A field's type: a base type and its array dimensions, innermost first
/// (`T[2][]` is a dynamic array of `T[2]`: `[Some(2), None]`).
#[derive(Clone, Debug)]
pub(super) struct FieldType {
    pub(super) base: Base,
    pub(super) dims: Vec<Option<usize>>,
}

#[derive(Clone, Debug)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) ty: FieldType,
}

#[derive(Clone, Debug)]
pub(super) struct StructType {
    pub(super) name: String,
    pub(super) fields: Vec<Field>,
    /// `Name(type1 name1,type2 name2)`: this struct's part of `encodeType`.
    definition: String,
    /// `typeHash`, once computed (only for structs reachable from the roots).
    hash: Option<B256>,
}

impl StructType {
    pub(super) fn type_hash(&self) -> Option<B256> {
        self.hash
    }
}

/// All struct types of one request.
#[derive(Debug)]
pub(super) struct Types {
    structs: Vec<StructType>,
    by_name: HashMap<String, usize>,
}

impl Types {
    /// Parses and checks `types`: names, field types, and the size bounds.
    pub(super) fn parse(types: &Map<String, Value>) -> Result<Self, ChainError> {
        let root = Path::root("types");
        if types.len() > MAX_STRUCT_TYPES {
            return Err(root.invalid(format!(
                "{} struct types; at most {MAX_STRUCT_TYPES} are accepted",
                types.len()
            )));
        }
        let mut by_name = HashMap::with_capacity(types.len());
        for (index, name) in types.keys().enumerate() {
            check_identifier(name).map_err(|reason| root.invalid(reason))?;
            if is_builtin_name(name) {
                return Err(root.key(name).invalid(format!(
                    "`{name}` is a built-in type name and cannot name a struct"
                )));
            }
            by_name.insert(name.clone(), index);
        }

        let mut total_fields = 0usize;
        let mut structs = Vec::with_capacity(types.len());
        for (name, list) in types {
            let path = root.key(name);
            let list = list
                .as_array()
                .ok_or_else(|| path.invalid("expected an array of {name, type} fields"))?;
            if list.len() > MAX_FIELDS_PER_STRUCT {
                return Err(path.invalid(format!(
                    "{} fields; at most {MAX_FIELDS_PER_STRUCT} are accepted",
                    list.len()
                )));
            }
            total_fields += list.len();
            if total_fields > MAX_TOTAL_FIELDS {
                return Err(root.invalid(format!(
                    "more than {MAX_TOTAL_FIELDS} fields in all structs together"
                )));
            }
            let mut fields: Vec<Field> = Vec::with_capacity(list.len());
            let mut definition = format!("{name}(");
            for (index, entry) in list.iter().enumerate() {
                let at = path.index(index);
                let field_name = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at.invalid("expected an object with a string `name`"))?;
                let type_text = entry
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at.invalid("expected an object with a string `type`"))?;
                check_identifier(field_name).map_err(|reason| at.key("name").invalid(reason))?;
                if fields.iter().any(|field| field.name == field_name) {
                    return Err(at
                        .key("name")
                        .invalid(format!("`{field_name}` is declared twice in `{name}`")));
                }
                let ty = parse_field_type(type_text, &by_name)
                    .map_err(|reason| at.key("type").invalid(reason))?;
                if index > 0 {
                    definition.push(',');
                }
                definition.push_str(type_text);
                definition.push(' ');
                definition.push_str(field_name);
                fields.push(Field {
                    name: field_name.to_owned(),
                    ty,
                });
            }
            definition.push(')');
            structs.push(StructType {
                name: name.clone(),
                fields,
                definition,
                hash: None,
            });
        }
        Ok(Self { structs, by_name })
    }

    pub(super) fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(super) fn get(&self, index: usize) -> &StructType {
        &self.structs[index]
    }

    /// Computes `typeHash` for every struct reachable from `roots`.
    ///
    /// `encodeType(S)` is S's definition followed by the definitions of all
    /// structs S depends on (transitively, S excluded), sorted by name as
    /// EIP-712 specifies. Each struct's dependency set is found by an
    /// iterative walk, and the total length of all `encodeType` strings is
    /// checked against [`MAX_ENCODED_TYPES_BYTES`] before anything is hashed.
    pub(super) fn compute_hashes(&mut self, roots: &[usize]) -> Result<(), ChainError> {
        let count = self.structs.len();
        let reachable = self.closure(roots, count);
        let mut closures = Vec::with_capacity(reachable.len());
        let mut total = 0usize;
        for &index in &reachable {
            let mut deps = self.closure(&[index], count);
            total += deps
                .iter()
                .map(|&dep| self.structs[dep].definition.len())
                .sum::<usize>();
            if total > MAX_ENCODED_TYPES_BYTES {
                return Err(Path::root("types").invalid(format!(
                    "the type definitions expand to more than {MAX_ENCODED_TYPES_BYTES} bytes \
                     of encodeType"
                )));
            }
            deps.retain(|&dep| dep != index);
            deps.sort_unstable_by(|&a, &b| self.structs[a].name.cmp(&self.structs[b].name));
            closures.push((index, deps));
        }
        for (index, deps) in closures {
            let mut hasher = Keccak256::new();
            hasher.update(self.structs[index].definition.as_bytes());
            for dep in deps {
                hasher.update(self.structs[dep].definition.as_bytes());
            }
            self.structs[index].hash = Some(hasher.finalize());
        }
        Ok(())
    }

    /// Struct indices reachable from `roots` (roots included), by a work list.
    fn closure(&self, roots: &[usize], count: usize) -> Vec<usize> {
        let mut seen = vec![false; count];
        let mut order = Vec::new();
        let mut pending: Vec<usize> = roots.to_vec();
        while let Some(index) = pending.pop() {
            if std::mem::replace(&mut seen[index], true) {
                continue;
            }
            order.push(index);
            for field in &self.structs[index].fields {
                if let Base::Struct(dep) = field.ty.base
                    && !seen[dep]
                {
                    pending.push(dep);
                }
            }
        }
        order
    }
}

/// Longest accepted field type string: a name plus the largest array suffixes.
const MAX_TYPE_BYTES: usize = MAX_NAME_BYTES + MAX_ARRAY_DIMENSIONS * 9;

/// Parses `Base[N][]...`. The reason is returned without a path (the caller adds it).
fn parse_field_type(text: &str, structs: &HashMap<String, usize>) -> Result<FieldType, String> {
    if text.len() > MAX_TYPE_BYTES {
        return Err(format!(
            "the type is longer than {MAX_TYPE_BYTES} bytes \
             (at most {MAX_ARRAY_DIMENSIONS} array dimensions)"
        ));
    }
    let (base, mut suffix) = text.split_at(text.find('[').unwrap_or(text.len()));
    let mut dims = Vec::new();
    while let Some(rest) = suffix.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("`{text}`: unclosed `[`"))?;
        let inner = &rest[..close];
        dims.push(if inner.is_empty() {
            None
        } else {
            Some(
                canonical_number(inner)
                    .filter(|n| *n <= MAX_FIXED_ARRAY_LENGTH)
                    .ok_or_else(|| {
                        format!(
                            "`{text}`: an array length must be 1 to {MAX_FIXED_ARRAY_LENGTH}, \
                             in decimal without leading zeros"
                        )
                    })?,
            )
        });
        if dims.len() > MAX_ARRAY_DIMENSIONS {
            return Err(format!(
                "`{text}`: more than {MAX_ARRAY_DIMENSIONS} array dimensions"
            ));
        }
        suffix = &rest[close + 1..];
    }
    if !suffix.is_empty() {
        return Err(format!(
            "`{text}` is not a type (text after the array brackets)"
        ));
    }
    let base = if let Some(atomic) = Atomic::parse(base) {
        Base::Atomic(atomic)
    } else if base == DOMAIN_TYPE {
        return Err(format!("`{DOMAIN_TYPE}` cannot be the type of a field"));
    } else if let Some(&index) = structs.get(base) {
        Base::Struct(index)
    } else if is_builtin_name(base) {
        return Err(format!(
            "`{base}` is not an EIP-712 type (use the full name, e.g. `uint256`, `bytes32`)"
        ));
    } else {
        return Err(format!("`{base}` is not defined in `types`"));
    };
    Ok(FieldType { base, dims })
}

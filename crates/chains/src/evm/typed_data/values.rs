//! `hashStruct` / `encodeData` over the message and the domain.
//!
//! Each JSON node is visited once, so the work is linear in the input. The
//! walk recurses along the value (one frame per struct or array level), and
//! that depth is capped at [`MAX_VALUE_DEPTH`] before each step, so no input
//! can exhaust the stack; serde_json also refuses JSON nested deeper than 128.

use alloy_primitives::{B256, Keccak256};
use serde_json::Value;

use super::atomic;
use super::limits::{MAX_VALUE_DEPTH, MAX_VALUES};
use super::path::Path;
use super::types::{Base, Types};
use crate::error::ChainError;

pub(super) struct Encoder<'t> {
    types: &'t Types,
    /// JSON values encoded so far (bounded by [`MAX_VALUES`]).
    values: usize,
}

impl<'t> Encoder<'t> {
    pub(super) fn new(types: &'t Types) -> Self {
        Self { types, values: 0 }
    }

    /// `hashStruct(s) = keccak256(typeHash ‖ encodeData(s))`. The struct's
    /// type hash must have been computed (it is reachable from the roots).
    pub(super) fn hash_struct(
        &mut self,
        index: usize,
        value: &Value,
        path: &Path<'_>,
        depth: usize,
    ) -> Result<B256, ChainError> {
        self.enter(path, depth)?;
        let ty = self.types.get(index);
        let Value::Object(object) = value else {
            let what = format!("an object (struct `{}`)", ty.name);
            return Err(path.invalid(atomic::expected(&what, value)));
        };
        let type_hash = ty
            .type_hash()
            .ok_or_else(|| path.invalid("internal error: type hash missing"))?;
        let mut hasher = Keccak256::new();
        hasher.update(type_hash);
        for field in &ty.fields {
            let at = path.key(&field.name);
            let field_value = object
                .get(&field.name)
                .ok_or_else(|| at.invalid(format!("missing (a field of `{}`)", ty.name)))?;
            let word = self.encode(field.ty.base, &field.ty.dims, field_value, &at, depth + 1)?;
            hasher.update(word);
        }
        // Every field is present and field names are unique, so a longer object has
        // extra keys: they would be shown to the user but not signed.
        if object.len() > ty.fields.len() {
            let extra = object
                .keys()
                .find(|key| !ty.fields.iter().any(|field| &field.name == *key));
            if let Some(extra) = extra {
                return Err(path.key(extra).invalid(format!(
                    "not a field of `{}` (it would not be signed)",
                    ty.name
                )));
            }
        }
        Ok(hasher.finalize())
    }

    /// One field's 32-byte word: atomic values directly, `string`/`bytes`
    /// hashed, structs by `hashStruct`, arrays as keccak256 of their words.
    fn encode(
        &mut self,
        base: Base,
        dims: &[Option<usize>],
        value: &Value,
        path: &Path<'_>,
        depth: usize,
    ) -> Result<[u8; 32], ChainError> {
        let Some((outer, inner)) = dims.split_last() else {
            return match base {
                Base::Struct(index) => Ok(self.hash_struct(index, value, path, depth)?.0),
                Base::Atomic(kind) => {
                    self.enter(path, depth)?;
                    atomic::encode(kind, value, path)
                }
            };
        };
        self.enter(path, depth)?;
        let Value::Array(items) = value else {
            return Err(path.invalid(atomic::expected("an array", value)));
        };
        if let Some(length) = outer
            && items.len() != *length
        {
            return Err(path.invalid(format!(
                "expected exactly {length} elements, found {}",
                items.len()
            )));
        }
        let mut hasher = Keccak256::new();
        for (index, item) in items.iter().enumerate() {
            hasher.update(self.encode(base, inner, item, &path.index(index), depth + 1)?);
        }
        Ok(hasher.finalize().0)
    }

    fn enter(&mut self, path: &Path<'_>, depth: usize) -> Result<(), ChainError> {
        if depth > MAX_VALUE_DEPTH {
            return Err(path.invalid(format!(
                "values are nested more than {MAX_VALUE_DEPTH} levels deep"
            )));
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(path.invalid(format!("more than {MAX_VALUES} values")));
        }
        Ok(())
    }
}

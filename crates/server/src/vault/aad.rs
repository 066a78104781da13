//! The associated data binding a sealed share to its context.

/// Version of the sealed-share format (bound into the associated data).
pub const FORMAT_VERSION: u32 = 1;

const DOMAIN: &[u8] = b"tandem-vault";

/// `len ‖ "tandem-vault" ‖ len ‖ version ‖ len ‖ wallet_id ‖ len ‖ epoch ‖ len ‖ role`, every
/// length a big-endian u64 and the integers big-endian, so no two contexts encode alike.
pub fn associated_data(wallet_id: &str, epoch: u64, role: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 * 8 + DOMAIN.len() + 4 + wallet_id.len() + 8 + role.len());
    field(&mut out, DOMAIN);
    field(&mut out, &FORMAT_VERSION.to_be_bytes());
    field(&mut out, wallet_id.as_bytes());
    field(&mut out, &epoch.to_be_bytes());
    field(&mut out, role.as_bytes());
    out
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_unambiguous() {
        assert_ne!(associated_data("ab", 1, "c"), associated_data("a", 1, "bc"));
        assert_ne!(associated_data("a", 1, "s"), associated_data("a", 2, "s"));
    }
}

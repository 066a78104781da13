//! Structured mutations of signing frames (security bar M8 and M9): every curve point and
//! scalar field of every signing round replaced by a value that must never be accepted
//! (identity, off-curve, unreduced coordinate, undefined prefix, small order; scalar 0, n, n + 1),
//! and every vector's length changed (one shorter, one longer, empty), keeping the frame's
//! header valid so that the real decoders and the protocol checks see it.
//!
//! A field is found by its own encoding: the genuine frame is decoded, the field's value
//! encoded on its own, and that byte string (random, so unique in the body) replaced in place.
//! Values a typed message cannot hold (off-curve points, scalars ≥ n) exist only that way.

use curve25519_dalek::edwards::CompressedEdwardsY;
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::GroupEncoding;

use crate::envelope::{self, decode_body};
use crate::protocol::Protocol;

use super::adversary::rebody;

/// What replaces a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPoint {
    /// The neutral element (secp256k1: SEC1 `0x00`; Ed25519: y = 1).
    Identity,
    /// A coordinate with no point on the curve.
    OffCurve,
    /// secp256k1: x = p; Ed25519: y = p (non-canonical).
    Unreduced,
    /// secp256k1: the undefined SEC1 tag `0x08` (not `0x05`: the `sec1` crate reads that as
    /// a compact x-only point); Ed25519: a point of order 2 (y = −1), small order.
    BadPrefixOrSmallOrder,
}

/// What replaces a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadScalar {
    Zero,
    /// The group order n (ℓ for Ed25519).
    Order,
    OrderPlusOne,
}

/// How a vector's length changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadLength {
    OneShorter,
    OneLonger,
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    Point(BadPoint),
    Scalar(BadScalar),
    Length(BadLength),
}

impl Mutation {
    pub const POINTS: [Mutation; 4] = [
        Mutation::Point(BadPoint::Identity),
        Mutation::Point(BadPoint::OffCurve),
        Mutation::Point(BadPoint::Unreduced),
        Mutation::Point(BadPoint::BadPrefixOrSmallOrder),
    ];
    pub const SCALARS: [Mutation; 3] = [
        Mutation::Scalar(BadScalar::Zero),
        Mutation::Scalar(BadScalar::Order),
        Mutation::Scalar(BadScalar::OrderPlusOne),
    ];
    pub const LENGTHS: [Mutation; 3] = [
        Mutation::Length(BadLength::OneShorter),
        Mutation::Length(BadLength::OneLonger),
        Mutation::Length(BadLength::Empty),
    ];
}

/// One field of one signing round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignField {
    pub protocol: Protocol,
    pub round: u8,
    pub name: &'static str,
}

/// Every point, scalar and vector field of both signing protocols, with the mutations that
/// apply to it.
pub fn signing_fields() -> Vec<(SignField, &'static [Mutation])> {
    let f = |protocol, round, name| SignField {
        protocol,
        round,
        name,
    };
    use Protocol::{EcdsaSign, Ed25519Sign};
    vec![
        // DKLs23 round 1: the OT-extension data (no curve element; vectors only).
        (f(EcdsaSign, 1, "mul_transmit.u"), &Mutation::LENGTHS),
        (f(EcdsaSign, 1, "mul_transmit.verify_t"), &Mutation::LENGTHS),
        // Round 2: the instance and public-share points, the gammas, psi, the multiplication.
        (f(EcdsaSign, 2, "gamma_u"), &Mutation::POINTS),
        (f(EcdsaSign, 2, "gamma_v"), &Mutation::POINTS),
        (f(EcdsaSign, 2, "public_share"), &Mutation::POINTS),
        (f(EcdsaSign, 2, "instance_point"), &Mutation::POINTS),
        (f(EcdsaSign, 2, "psi"), &Mutation::SCALARS),
        (f(EcdsaSign, 2, "salt"), &Mutation::LENGTHS),
        (
            f(EcdsaSign, 2, "mul_transmit.vector_of_tau"),
            &Mutation::LENGTHS,
        ),
        (
            f(EcdsaSign, 2, "mul_transmit.vector_of_tau[0]"),
            &Mutation::LENGTHS,
        ),
        (
            f(EcdsaSign, 2, "mul_transmit.vector_of_tau[0][0]"),
            &Mutation::SCALARS,
        ),
        (f(EcdsaSign, 2, "mul_transmit.verify_u"), &Mutation::LENGTHS),
        (
            f(EcdsaSign, 2, "mul_transmit.verify_u[0]"),
            &Mutation::SCALARS,
        ),
        (
            f(EcdsaSign, 2, "mul_transmit.gamma_sender"),
            &Mutation::LENGTHS,
        ),
        (
            f(EcdsaSign, 2, "mul_transmit.gamma_sender[0]"),
            &Mutation::SCALARS,
        ),
        // Round 3: the signature shares.
        (f(EcdsaSign, 3, "u"), &Mutation::SCALARS),
        (f(EcdsaSign, 3, "w"), &Mutation::SCALARS),
        // FROST round 1: the nonce commitments; round 2: the signature share.
        (f(Ed25519Sign, 1, "commitments.hiding"), &Mutation::POINTS),
        (f(Ed25519Sign, 1, "commitments.binding"), &Mutation::POINTS),
        (f(Ed25519Sign, 2, "share"), &Mutation::SCALARS),
    ]
}

/// `frame` with `field` mutated; `None` if the frame is not that field's round.
pub fn mutate_sign_field(frame: &[u8], field: SignField, m: Mutation) -> Option<Vec<u8>> {
    let env = envelope::decode(frame).ok()?;
    if env.protocol != field.protocol || env.round != field.round {
        return None;
    }
    let body = match field.protocol {
        Protocol::EcdsaSign => ecdsa(env.body, field, m)?,
        Protocol::Ed25519Sign => ed25519(env.body, field, m)?,
        _ => return None,
    };
    Some(rebody(frame, &body))
}

// ---- secp256k1 ----

/// n, big-endian.
const SECP_N: [u8; 32] = hex32("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
/// p, big-endian.
const SECP_P: [u8; 32] = hex32("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f");

fn ecdsa(body: &[u8], field: SignField, m: Mutation) -> Option<Vec<u8>> {
    use crate::ecdsa::sign_messages::{Round1, Round2, Round3};
    match (field.round, m) {
        (1, Mutation::Length(l)) => {
            let mut msg: Round1 = decode_body(body).ok()?;
            let ote = &mut msg.transmit.mul_transmit;
            match field.name {
                "mul_transmit.u" => resize(&mut ote.u, l),
                "mul_transmit.verify_t" => resize(&mut ote.verify_t, l),
                _ => return None,
            }
            postcard::to_allocvec(&msg).ok()
        }
        (2, Mutation::Length(l)) => {
            let mut msg: Round2 = decode_body(body).ok()?;
            let t = &mut msg.transmit;
            match field.name {
                "salt" => resize(&mut t.salt, l),
                "mul_transmit.vector_of_tau" => resize(&mut t.mul_transmit.vector_of_tau, l),
                "mul_transmit.vector_of_tau[0]" => {
                    resize(t.mul_transmit.vector_of_tau.first_mut()?, l)
                }
                "mul_transmit.verify_u" => resize(&mut t.mul_transmit.verify_u, l),
                "mul_transmit.gamma_sender" => resize(&mut t.mul_transmit.gamma_sender, l),
                _ => return None,
            }
            postcard::to_allocvec(&msg).ok()
        }
        (2, Mutation::Point(p)) => {
            let mut msg: Round2 = decode_body(body).ok()?;
            let t = &mut msg.transmit;
            let point = match field.name {
                "gamma_u" => &mut t.gamma_u,
                "gamma_v" => &mut t.gamma_v,
                "public_share" => &mut t.public_share,
                "instance_point" => &mut t.instance_point,
                _ => return None,
            };
            if p == BadPoint::Identity {
                *point = k256::AffinePoint::IDENTITY;
                return postcard::to_allocvec(&msg).ok();
            }
            let genuine = point.to_bytes().to_vec();
            let bad = secp_point(p, &genuine);
            replace_once(body, &genuine, &bad)
        }
        (2, Mutation::Scalar(s)) => {
            let msg: Round2 = decode_body(body).ok()?;
            let t = &msg.transmit;
            let scalar = match field.name {
                "psi" => t.psi,
                "mul_transmit.vector_of_tau[0][0]" => {
                    *t.mul_transmit.vector_of_tau.first()?.first()?
                }
                "mul_transmit.verify_u[0]" => *t.mul_transmit.verify_u.first()?,
                "mul_transmit.gamma_sender[0]" => *t.mul_transmit.gamma_sender.first()?,
                _ => return None,
            };
            replace_once(body, scalar.to_repr().as_slice(), &secp_scalar(s))
        }
        (3, Mutation::Scalar(s)) => {
            let msg: Round3 = decode_body(body).ok()?;
            let scalar = match field.name {
                "u" => msg.broadcast.u,
                "w" => msg.broadcast.w,
                _ => return None,
            };
            replace_once(body, scalar.to_repr().as_slice(), &secp_scalar(s))
        }
        _ => None,
    }
}

fn secp_point(p: BadPoint, genuine: &[u8]) -> Vec<u8> {
    match p {
        // Handled on the typed message (the encoding changes length).
        BadPoint::Identity => vec![0],
        BadPoint::OffCurve => {
            // The first x with no y: x³ + 7 is a non-residue for about half of all x.
            (1u64..)
                .map(|x| {
                    let mut enc = vec![2u8];
                    enc.extend_from_slice(&[0u8; 24]);
                    enc.extend_from_slice(&x.to_be_bytes());
                    enc
                })
                .find(|enc| {
                    k256::CompressedPoint::try_from(enc.as_slice())
                        .is_ok_and(|arr| bool::from(k256::AffinePoint::from_bytes(&arr).is_none()))
                })
                .unwrap_or_default()
        }
        BadPoint::Unreduced => {
            let mut enc = vec![2u8];
            enc.extend_from_slice(&SECP_P);
            enc
        }
        BadPoint::BadPrefixOrSmallOrder => {
            let mut enc = genuine.to_vec();
            enc[0] = 8;
            enc
        }
    }
}

fn secp_scalar(s: BadScalar) -> [u8; 32] {
    match s {
        BadScalar::Zero => [0; 32],
        BadScalar::Order => SECP_N,
        BadScalar::OrderPlusOne => add_one_be(SECP_N),
    }
}

// ---- Ed25519 ----

/// ℓ, little-endian.
const ED_L: [u8; 32] = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

fn ed25519(body: &[u8], field: SignField, m: Mutation) -> Option<Vec<u8>> {
    use crate::ed25519::sign_messages::{Round1, Round2};
    match (field.round, m) {
        (1, Mutation::Point(p)) => {
            let msg: Round1 = decode_body(body).ok()?;
            let c = &msg.commitments;
            let genuine = match field.name {
                "commitments.hiding" => c.hiding().serialize().ok()?,
                "commitments.binding" => c.binding().serialize().ok()?,
                _ => return None,
            };
            replace_once(body, &genuine, &ed_point(p))
        }
        (2, Mutation::Scalar(s)) if field.name == "share" => {
            let msg: Round2 = decode_body(body).ok()?;
            let genuine = msg.share.serialize();
            let bad = match s {
                BadScalar::Zero => [0; 32],
                BadScalar::Order => ED_L,
                BadScalar::OrderPlusOne => {
                    let mut v = ED_L;
                    v[0] += 1;
                    v
                }
            };
            replace_once(body, &genuine, &bad)
        }
        _ => None,
    }
}

fn ed_point(p: BadPoint) -> Vec<u8> {
    let mut y = [0u8; 32];
    match p {
        BadPoint::Identity => y[0] = 1,
        BadPoint::OffCurve => {
            // The first y with no x on the curve.
            for candidate in 2u8.. {
                y[0] = candidate;
                if CompressedEdwardsY(y).decompress().is_none() {
                    break;
                }
            }
        }
        // y = p = 2²⁵⁵ − 19: non-canonical (it is 0).
        BadPoint::Unreduced => {
            y = [0xff; 32];
            y[0] = 0xed;
            y[31] = 0x7f;
        }
        // y = p − 1 = −1: the point (0, −1) of order 2.
        BadPoint::BadPrefixOrSmallOrder => {
            y = [0xff; 32];
            y[0] = 0xec;
            y[31] = 0x7f;
        }
    }
    y.to_vec()
}

// ---- helpers ----

fn resize<T: Clone>(v: &mut Vec<T>, l: BadLength) {
    match l {
        BadLength::OneShorter => {
            v.pop();
        }
        BadLength::OneLonger => {
            if let Some(last) = v.last().cloned() {
                v.push(last);
            }
        }
        BadLength::Empty => v.clear(),
    }
}

/// `body` with the one occurrence of `genuine` replaced by `bad` (same length); `None` if the
/// field's encoding is not found exactly once.
fn replace_once(body: &[u8], genuine: &[u8], bad: &[u8]) -> Option<Vec<u8>> {
    if genuine.len() != bad.len() || genuine.is_empty() {
        return None;
    }
    let hits: Vec<usize> = body
        .windows(genuine.len())
        .enumerate()
        .filter(|(_, w)| *w == genuine)
        .map(|(i, _)| i)
        .collect();
    let [at] = hits.as_slice() else {
        return None;
    };
    let mut out = body.to_vec();
    out[*at..*at + bad.len()].copy_from_slice(bad);
    Some(out)
}

fn add_one_be(mut v: [u8; 32]) -> [u8; 32] {
    for b in v.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    v
}

const fn hex32(s: &str) -> [u8; 32] {
    let s = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

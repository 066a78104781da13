//! Protocol identifiers, carried in every envelope and mixed into every session id.

use crate::scheme::SchemeId;

/// One operation of one scheme. The numeric values are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Protocol {
    EcdsaKeygen = 0x11,
    EcdsaSign = 0x12,
    EcdsaRefreshFast = 0x13,
    EcdsaRefreshComplete = 0x14,
    Ed25519Keygen = 0x21,
    Ed25519Sign = 0x22,
    Ed25519Refresh = 0x23,
}

/// Which operation a ceremony performs, independent of the scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Keygen,
    Sign,
    RefreshFast,
    RefreshComplete,
}

/// How a refresh re-randomises the shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefreshMode {
    /// New key shares, same OT state re-randomised (DKLs23 "refresh when you wake up").
    Fast,
    /// New key shares and fresh base OTs. Required after an import or a detected cheat.
    Complete,
}

impl Protocol {
    pub fn from_u8(v: u8) -> Option<Protocol> {
        Some(match v {
            0x11 => Protocol::EcdsaKeygen,
            0x12 => Protocol::EcdsaSign,
            0x13 => Protocol::EcdsaRefreshFast,
            0x14 => Protocol::EcdsaRefreshComplete,
            0x21 => Protocol::Ed25519Keygen,
            0x22 => Protocol::Ed25519Sign,
            0x23 => Protocol::Ed25519Refresh,
            _ => return None,
        })
    }

    /// The protocol for `op` under `scheme`. Ed25519 has one refresh (FROST keeps no OT
    /// state), so both refresh modes map to it.
    pub fn for_op(scheme: SchemeId, op: Operation) -> Protocol {
        match (scheme, op) {
            (SchemeId::Secp256k1, Operation::Keygen) => Protocol::EcdsaKeygen,
            (SchemeId::Secp256k1, Operation::Sign) => Protocol::EcdsaSign,
            (SchemeId::Secp256k1, Operation::RefreshFast) => Protocol::EcdsaRefreshFast,
            (SchemeId::Secp256k1, Operation::RefreshComplete) => Protocol::EcdsaRefreshComplete,
            (SchemeId::Ed25519, Operation::Keygen) => Protocol::Ed25519Keygen,
            (SchemeId::Ed25519, Operation::Sign) => Protocol::Ed25519Sign,
            (SchemeId::Ed25519, Operation::RefreshFast | Operation::RefreshComplete) => {
                Protocol::Ed25519Refresh
            }
        }
    }

    /// How many message rounds the protocol has (each round: one frame each way).
    pub fn rounds(self) -> u8 {
        match self {
            Protocol::EcdsaKeygen
            | Protocol::EcdsaSign
            | Protocol::EcdsaRefreshFast
            | Protocol::EcdsaRefreshComplete => 3,
            Protocol::Ed25519Keygen | Protocol::Ed25519Sign | Protocol::Ed25519Refresh => 2,
        }
    }

    /// Whether some frame of this protocol carries secret material in clear (DKG and refresh
    /// polynomial evaluations, zero-share seeds). Such frames must travel inside the
    /// end-to-end encrypted channel; the library cannot enforce that, the transport must.
    pub fn carries_confidential_frames(self) -> bool {
        !matches!(self, Protocol::EcdsaSign | Protocol::Ed25519Sign)
    }
}

impl RefreshMode {
    pub fn operation(self) -> Operation {
        match self {
            RefreshMode::Fast => Operation::RefreshFast,
            RefreshMode::Complete => Operation::RefreshComplete,
        }
    }
}

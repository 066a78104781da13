//! The two parties of every ceremony.

/// Which side of the 2-of-2 a share or a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The user's device (CLI, SDK, browser). Party index 1.
    Device,
    /// The Tandem server. Party index 2.
    Server,
}

impl Role {
    /// The other party.
    pub fn peer(self) -> Role {
        match self {
            Role::Device => Role::Server,
            Role::Server => Role::Device,
        }
    }

    /// Wire and protocol index (1 or 2). Both libraries number parties from 1.
    pub fn index(self) -> u8 {
        match self {
            Role::Device => 1,
            Role::Server => 2,
        }
    }

    pub fn from_index(index: u8) -> Option<Role> {
        match index {
            1 => Some(Role::Device),
            2 => Some(Role::Server),
            _ => None,
        }
    }
}

//! Where things live inside a store directory, and how share file names encode
//! `(epoch, state)`.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::wallet_id::WalletName;

/// Lifecycle state of a stored share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareState {
    /// In use for signing.
    Current,
    /// Produced by a refresh that the server may not have committed yet.
    Staged,
    /// Kept because the newest Backup Kit the user saved pairs with it (an older epoch than
    /// the current share once the wallet has been refreshed). Never used to sign online.
    Kit,
}

impl ShareState {
    fn extension(self) -> &'static str {
        match self {
            ShareState::Current => "current",
            ShareState::Staged => "staged",
            ShareState::Kit => "kit",
        }
    }

    /// The state a share of the same epoch must not also be in (current and staged exclude
    /// each other; a kit copy sits beside either).
    pub(crate) fn other(self) -> ShareState {
        match self {
            ShareState::Current => ShareState::Staged,
            ShareState::Staged => ShareState::Current,
            ShareState::Kit => ShareState::Kit,
        }
    }
}

/// Suffix of a re-encrypted copy written during a passphrase change.
pub(crate) const REKEY_SUFFIX: &str = ".rekey";

#[derive(Clone, Debug)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn keystore(&self) -> PathBuf {
        self.root.join("keystore.json")
    }

    /// The account's recovery public key as this device set it up (see `kit.rs`).
    pub(crate) fn recovery_key(&self) -> PathBuf {
        self.root.join("recovery-key")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }

    pub(crate) fn shares(&self) -> PathBuf {
        self.root.join("shares")
    }

    pub(crate) fn wallet(&self, wallet: WalletName<'_>) -> PathBuf {
        self.shares().join(wallet.as_str())
    }

    pub(crate) fn share(&self, wallet: WalletName<'_>, epoch: u64, state: ShareState) -> PathBuf {
        self.wallet(wallet).join(share_file_name(epoch, state))
    }

    pub(crate) fn rekey(&self, wallet: WalletName<'_>, epoch: u64, state: ShareState) -> PathBuf {
        self.wallet(wallet)
            .join(format!("{}{REKEY_SUFFIX}", share_file_name(epoch, state)))
    }
}

fn share_file_name(epoch: u64, state: ShareState) -> String {
    format!("{epoch}.{}", state.extension())
}

/// Parses `<epoch>.current` / `<epoch>.staged`. The epoch must be canonical decimal (no sign,
/// no leading zeros) so that exactly one file name maps to each `(epoch, state)`.
pub(crate) fn parse_share_file_name(name: &str) -> Option<(u64, ShareState)> {
    let (epoch, ext) = name.split_once('.')?;
    let state = match ext {
        "current" => ShareState::Current,
        "staged" => ShareState::Staged,
        "kit" => ShareState::Kit,
        _ => return None,
    };
    let canonical = !epoch.is_empty()
        && epoch.bytes().all(|b| b.is_ascii_digit())
        && (epoch == "0" || !epoch.starts_with('0'));
    if !canonical {
        return None;
    }
    Some((epoch.parse().ok()?, state))
}

/// The epochs present for one wallet, by state.
#[derive(Debug, Default)]
pub(crate) struct WalletFiles {
    pub(crate) current: BTreeSet<u64>,
    pub(crate) staged: BTreeSet<u64>,
    pub(crate) kit: BTreeSet<u64>,
}

impl WalletFiles {
    /// Lists `dir`; a missing directory is simply a wallet with no shares.
    pub(crate) fn list(dir: &Path) -> io::Result<WalletFiles> {
        let mut files = WalletFiles::default();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some((epoch, state)) = entry.file_name().to_str().and_then(parse_share_file_name)
            else {
                continue;
            };
            files.set(state).insert(epoch);
        }
        Ok(files)
    }

    pub(crate) fn get(&self, state: ShareState) -> &BTreeSet<u64> {
        match state {
            ShareState::Current => &self.current,
            ShareState::Staged => &self.staged,
            ShareState::Kit => &self.kit,
        }
    }

    fn set(&mut self, state: ShareState) -> &mut BTreeSet<u64> {
        match state {
            ShareState::Current => &mut self.current,
            ShareState::Staged => &mut self.staged,
            ShareState::Kit => &mut self.kit,
        }
    }

    pub(crate) fn contains(&self, epoch: u64, state: ShareState) -> bool {
        self.get(state).contains(&epoch)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_empty() && self.staged.is_empty() && self.kit.is_empty()
    }

    /// Every `(epoch, state)` present.
    pub(crate) fn all(&self) -> impl Iterator<Item = (u64, ShareState)> + '_ {
        let current = self.current.iter().map(|&e| (e, ShareState::Current));
        let staged = self.staged.iter().map(|&e| (e, ShareState::Staged));
        let kit = self.kit.iter().map(|&e| (e, ShareState::Kit));
        current.chain(staged).chain(kit)
    }
}

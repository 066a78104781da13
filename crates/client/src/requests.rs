//! Builders for the device's ceremonies, awaited directly:
//!
//! ```no_run
//! # async fn demo(device: tandem_client::Device) -> Result<(), tandem_client::ClientError> {
//! use tandem_proto::sign::{Encoding, SignPayload};
//! use tandem_proto::wallet::Chain;
//!
//! let wallet = device.keygen(Chain::Evm).progress(&|phase: &str| eprintln!("{phase}")).await?;
//! let payload = SignPayload::EvmMessage { message: "hello".into(), encoding: Encoding::Utf8 };
//! let signed = device.signing(&wallet.id, &payload).await?;
//! let refreshed = device.refreshing(&wallet.id).complete().await?;
//! # let _ = (signed, refreshed); Ok(()) }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::device::Device;
use crate::error::ClientError;

/// A phase callback: receives a short label as a ceremony advances (e.g. for a spinner).
pub type ProgressFn<'a> = dyn Fn(&str) + Send + Sync + 'a;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClientError>> + Send + 'a>>;

/// A signature to run; see [`Device::signing`].
#[must_use = "await it to sign"]
pub struct Signing<'a> {
    pub(crate) device: &'a Device,
    pub(crate) wallet_id: &'a str,
    pub(crate) payload: &'a SignPayload,
    pub(crate) progress: Option<&'a ProgressFn<'a>>,
}

impl<'a> Signing<'a> {
    /// Reports the ceremony's phases to `f`.
    pub fn progress(mut self, f: &'a ProgressFn<'a>) -> Self {
        self.progress = Some(f);
        self
    }
}

impl<'a> IntoFuture for Signing<'a> {
    type Output = Result<SignResult, ClientError>;
    type IntoFuture = Boxed<'a, SignResult>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.device
                .sign(self.wallet_id, self.payload, self.progress)
                .await
        })
    }
}

/// A wallet to create; see [`Device::keygen`].
#[must_use = "await it to create the wallet"]
pub struct Keygen<'a> {
    pub(crate) device: &'a Device,
    pub(crate) chain: Chain,
    pub(crate) progress: Option<&'a ProgressFn<'a>>,
}

impl<'a> Keygen<'a> {
    /// Reports the ceremony's phases to `f`.
    pub fn progress(mut self, f: &'a ProgressFn<'a>) -> Self {
        self.progress = Some(f);
        self
    }
}

impl<'a> IntoFuture for Keygen<'a> {
    type Output = Result<WalletInfo, ClientError>;
    type IntoFuture = Boxed<'a, WalletInfo>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.device.create_wallet(self.chain, self.progress).await })
    }
}

/// A share refresh to run; see [`Device::refreshing`].
#[must_use = "await it to refresh"]
pub struct Refresh<'a> {
    pub(crate) device: &'a Device,
    pub(crate) wallet_id: &'a str,
    pub(crate) complete: bool,
    pub(crate) progress: Option<&'a ProgressFn<'a>>,
}

impl<'a> Refresh<'a> {
    /// A complete refresh (new oblivious-transfer state too): the only ceremony a share
    /// locked after detected cheating, or a frozen wallet, may run.
    pub fn complete(mut self) -> Self {
        self.complete = true;
        self
    }

    /// Reports the ceremony's phases to `f`.
    pub fn progress(mut self, f: &'a ProgressFn<'a>) -> Self {
        self.progress = Some(f);
        self
    }
}

impl<'a> IntoFuture for Refresh<'a> {
    type Output = Result<WalletInfo, ClientError>;
    type IntoFuture = Boxed<'a, WalletInfo>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if self.complete {
                self.device
                    .refresh_complete(self.wallet_id, self.progress)
                    .await
            } else {
                self.device.refresh(self.wallet_id, self.progress).await
            }
        })
    }
}

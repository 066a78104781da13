use async_trait::async_trait;
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use zeroize::Zeroizing;

/// One message from the device.
#[derive(Debug)]
pub enum Incoming {
    Control(ClientMessage),
    /// Decrypted MPC frame: wiped when the ceremony has consumed it.
    Frame(Zeroizing<Vec<u8>>),
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the device closed the connection")]
    Closed,
    #[error("message too large")]
    TooLarge,
    #[error("malformed control message")]
    Malformed,
    /// A control message that decrypted but is not a valid message (unknown field, repeated
    /// key, too deep, wrong type): the device is told which field and why.
    #[error("invalid control message: {}", .0.message)]
    InvalidControl(Box<tandem_proto::ApiError>),
    /// A message failed the end-to-end channel's authentication (altered, replayed,
    /// reordered): the channel is dead, the wallet is not at fault.
    #[error("a message failed the encrypted channel's authentication")]
    Decrypt,
    #[error("transport: {0}")]
    Transport(String),
    /// The wallet was frozen (another ceremony on it caught cheating) while this one ran.
    #[error("the wallet was frozen during the ceremony")]
    Frozen,
}

/// A bidirectional, ordered message pipe to the device.
#[async_trait]
pub trait Channel: Send {
    async fn recv(&mut self) -> Result<Incoming, ChannelError>;
    async fn send_control(&mut self, msg: &ServerMessage) -> Result<(), ChannelError>;
    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ChannelError>;
}

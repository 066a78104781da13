use tandem_client::ClientError;

use crate::cli::BenchArgs;
use crate::context::Context;

pub async fn run(_ctx: &Context, _json: bool, _args: BenchArgs) -> Result<(), ClientError> {
    Err(ClientError::Local(
        "the load generator is not built yet".into(),
    ))
}

use tandem_client::ClientError;

use crate::cli::BenchArgs;
use crate::context::Context;

pub async fn run(ctx: &Context, json: bool, args: BenchArgs) -> Result<(), ClientError> {
    crate::bench::run(ctx.server_url(), json, args).await
}

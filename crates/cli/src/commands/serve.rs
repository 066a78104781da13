use tandem_client::ClientError;
use tandem_server::tls::TlsSetup;

use super::server_config;
use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> Result<(), ClientError> {
    server_config::init_logging("info,tower_http=warn,sqlx=warn");
    let mut config = server_config::load(args.config, args.data_dir, args.listen)?;
    if args.behind_tls_proxy {
        config.tls_terminated_by_proxy = true;
    }
    let tls = match (args.tls_cert, args.tls_key, args.dev_tls) {
        (Some(cert), Some(key), _) => Some(TlsSetup::Files { cert, key }),
        (_, _, true) => Some(TlsSetup::Dev),
        _ => config.tls_files(),
    };
    tandem_server::app::serve(config, tls)
        .await
        .map_err(|e| ClientError::Local(e.to_string()))
}

use tandem_client::ClientError;
use tandem_server::config::Config;
use tandem_server::tls::TlsSetup;

use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> Result<(), ClientError> {
    init_logging();
    let local = |e: &dyn std::fmt::Display| ClientError::Local(e.to_string());
    let mut config = Config::load(args.config.as_deref()).map_err(|e| local(&e))?;
    if let Some(listen) = args.listen {
        config.listen = listen
            .parse()
            .map_err(|_| ClientError::Local(format!("--listen: not an address: {listen}")))?;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    config.validate().map_err(|e| local(&e))?;
    let tls = match (args.tls_cert, args.tls_key, args.dev_tls) {
        (Some(cert), Some(key), _) => Some(TlsSetup::Files { cert, key }),
        (_, _, true) => Some(TlsSetup::Dev),
        _ => None,
    };
    tandem_server::app::serve(config, tls)
        .await
        .map_err(|e| local(&e))
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let json = std::env::var("TANDEM_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

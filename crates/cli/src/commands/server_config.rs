//! Loading the server configuration the way `tandem serve` does (file, environment, then
//! command-line overrides), shared by `serve` and the `vault` commands so that both always
//! agree on the database and the keys.

use std::path::PathBuf;

use tandem_client::ClientError;
use tandem_server::config::Config;

pub fn load(
    file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    listen: Option<String>,
) -> Result<Config, ClientError> {
    let local = |e: &dyn std::fmt::Display| ClientError::Local(e.to_string());
    let mut config = Config::load(file.as_deref()).map_err(|e| local(&e))?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .map_err(|_| ClientError::Local(format!("--listen: not an address: {listen}")))?;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config.validate().map_err(|e| local(&e))?;
    Ok(config)
}

/// Whether the server's configuration is named at all (a file, a data directory or a
/// database URL), rather than the development defaults under `./tandem-data`.
pub fn explicit(args: &crate::cli::ServerConfigArgs) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    args.config.is_some()
        || args.data_dir.is_some()
        || set("TANDEM_CONFIG")
        || set("TANDEM_DATA_DIR")
        || set("TANDEM_DATABASE_URL")
}

/// Logs to stderr, `TANDEM_LOG` filtering (default `default_filter`), JSON lines if
/// `TANDEM_LOG_FORMAT=json`.
pub fn init_logging(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TANDEM_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
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

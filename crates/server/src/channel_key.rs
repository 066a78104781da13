//! The static key of the end-to-end ceremony channel (`server-channel.key`), and its public
//! half registered in the database by the first instance of a deployment.
//!
//! Devices pin the public key at their first login. Every instance behind one balancer must
//! hold the same private key, or one ceremony in N fails with `channel_error`; so an instance
//! whose key file differs from the registered key (or is missing once a key is registered)
//! refuses to start and says which file to copy. The key is a file next to the KEK file, not
//! in the HSM, also when `pkcs11` is configured (docs/server.md).

use std::path::Path;

use sqlx::Row;
use tandem_proto::channel::StaticKeypair;

use crate::store::Store;
use crate::vault::secret_key_file;

/// The `server_identity` row holding the hex public key.
const NAME: &str = "channel_public_key";

/// Loads (or, on a deployment's first start, creates) the channel key at `path` and checks it
/// against the public key the database has registered, registering it if none is.
pub async fn load_and_register(
    store: &Store,
    path: &Path,
    now_ms: i64,
) -> Result<StaticKeypair, String> {
    let existing = registered(store.pool()).await?;
    if existing.is_some() && !path.exists() {
        return Err(format!(
            "the channel key file `{}` is missing, but this deployment's database already has \
             a channel key (devices pinned {}): copy `server-channel.key` from the data \
             directory of an instance that serves (next to its KEK file) to `{}`, mode 0600, \
             or point vault.key_file at the shared directory; a new key would break every \
             device's pin",
            path.display(),
            existing.as_deref().unwrap_or_default(),
            path.display()
        ));
    }
    let secret = secret_key_file(path).map_err(|e| format!("channel key: {e}"))?;
    let key = StaticKeypair::from_private(secret.as_slice())
        .map_err(|e| format!("channel key `{}`: {e}", path.display()))?;
    let public = hex::encode(key.public());
    let registered = match existing {
        Some(r) => r,
        None => {
            sqlx::query(
                "INSERT INTO server_identity (name, value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(NAME)
            .bind(&public)
            .bind(now_ms)
            .execute(store.pool())
            .await
            .map_err(|e| format!("registering the channel key: {e}"))?;
            // Another instance may have won the race: compare with whatever is there now.
            registered(store.pool())
                .await?
                .ok_or("the channel key was not registered")?
        }
    };
    if registered != public {
        return Err(format!(
            "this instance's channel key `{}` (public key {public}) is not the one this \
             deployment's database registered ({registered}): every instance must hold the \
             same key, or devices fail ceremonies with `channel_error`. Copy \
             `server-channel.key` from the data directory of an instance that serves (next to \
             its KEK file) over `{}` (mode 0600), or point vault.key_file at the shared \
             directory, then start again",
            path.display(),
            path.display()
        ));
    }
    Ok(key)
}

/// The registered public key (hex), if any instance registered one yet.
pub async fn registered(pool: &sqlx::AnyPool) -> Result<Option<String>, String> {
    let row = sqlx::query("SELECT value FROM server_identity WHERE name = $1")
        .bind(NAME)
        .fetch_optional(pool)
        .await
        .map_err(|e| format!("reading the registered channel key: {e}"))?;
    row.map(|r| r.try_get::<String, _>(0))
        .transpose()
        .map_err(|e| format!("reading the registered channel key: {e}"))
}

use tandem_client::ClientError;
use tandem_client::known_servers::origin;
use tandem_client::profile::Profile;
use tandem_proto::auth::SessionInfo;

use crate::cli::SessionCommand;
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, cmd: SessionCommand) -> Result<(), ClientError> {
    if let SessionCommand::ForgetServer = cmd {
        return forget_server(ctx, json);
    }
    let api = ctx.api()?;
    match cmd {
        SessionCommand::ForgetServer => {}
        SessionCommand::Status => {
            let s = api.session().await?;
            let origin = origin(api.base())?;
            let key = api.server_key().map(hex::encode);
            let mut shown = readable(&s);
            if let Some(obj) = shown.as_object_mut() {
                obj.insert("server".into(), origin.clone().into());
                obj.insert("server_key".into(), key.clone().into());
            }
            output::print(json, &shown, || {
                format!(
                    "  server:   {}\n  channel key pinned for it: {}\n{}",
                    output::clean(&origin),
                    key.as_deref()
                        .unwrap_or("none (log in again to pin the server's key)"),
                    describe(&s)
                )
            });
        }
        SessionCommand::Refresh => {
            let s = api.refresh_session().await?;
            output::print(json, &readable(&s), || {
                format!("Session extended\n{}", describe(&s))
            });
        }
        SessionCommand::Logout => {
            api.logout().await?;
            // The pinned channel key stays (known_servers.json): only the login goes.
            Profile::remove(&ctx.dir)?;
            output::print(json, &serde_json::json!({"logged_out": true}), || {
                "Logged out".to_owned()
            });
        }
        SessionCommand::List => {
            let list = api.sessions().await?;
            let shown: Vec<serde_json::Value> = list.iter().map(readable).collect();
            output::print(json, &shown, || {
                list.iter()
                    .map(|s| {
                        let mark = if s.current { "*" } else { " " };
                        format!(
                            "{mark} {}  {}  expires {}",
                            output::clean(&s.id),
                            output::clean(&s.auth_method),
                            output::when(s.expires_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SessionCommand::Revoke { id } => {
            api.revoke_session(&id).await?;
            output::print(json, &serde_json::json!({"revoked": id}), || {
                format!("Revoked session {}", output::clean(&id))
            });
        }
    }
    Ok(())
}

fn describe(s: &SessionInfo) -> String {
    format!(
        "  session:  {}\n  method:   {}\n  expires:  {}\n  absolute: {}",
        output::clean(&s.id),
        output::clean(&s.auth_method),
        output::when(s.expires_at),
        output::when(s.absolute_expires_at)
    )
}

/// The session as JSON: the raw Unix-millisecond fields scripts rely on, plus each time as
/// RFC 3339 next to it (`expires_at_rfc3339`, …).
fn readable(s: &SessionInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        let times: Vec<(String, i64)> = obj
            .iter()
            .filter(|(k, _)| k.ends_with("_at"))
            .filter_map(|(k, v)| Some((format!("{k}_rfc3339"), v.as_i64()?)))
            .collect();
        for (k, ms) in times {
            obj.insert(k, output::rfc3339(ms).into());
        }
    }
    v
}

/// The deliberate reset of a pin, after the operator confirmed that the key changed.
fn forget_server(ctx: &Context, json: bool) -> Result<(), ClientError> {
    let server = ctx.server_url();
    let origin = origin(&server)?;
    let removed = ctx.known_servers()?.forget(&server)?;
    output::print(
        json,
        &serde_json::json!({"server": origin, "forgotten": removed}),
        || {
            if removed {
                format!(
                    "Removed the channel key pinned for {}: the next login pins the key the server presents then",
                    output::clean(&origin)
                )
            } else {
                format!("No channel key was pinned for {}", output::clean(&origin))
            }
        },
    );
    Ok(())
}

use tandem_client::ClientError;
use tandem_client::profile::Profile;
use tandem_proto::auth::SessionInfo;

use crate::cli::SessionCommand;
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, cmd: SessionCommand) -> Result<(), ClientError> {
    let api = ctx.api()?;
    match cmd {
        SessionCommand::Status => {
            let s = api.session().await?;
            output::print(json, &s, || describe(&s));
        }
        SessionCommand::Refresh => {
            let s = api.refresh_session().await?;
            output::print(json, &s, || format!("Session extended\n{}", describe(&s)));
        }
        SessionCommand::Logout => {
            api.logout().await?;
            Profile::remove(&ctx.dir)?;
            output::print(json, &serde_json::json!({"logged_out": true}), || {
                "Logged out".to_owned()
            });
        }
        SessionCommand::List => {
            let list = api.sessions().await?;
            output::print(json, &list, || {
                list.iter()
                    .map(|s| {
                        let mark = if s.current { "*" } else { " " };
                        format!(
                            "{mark} {}  {}  expires {}",
                            s.id, s.auth_method, s.expires_at
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SessionCommand::Revoke { id } => {
            api.revoke_session(&id).await?;
            output::print(json, &serde_json::json!({"revoked": id}), || {
                format!("Revoked session {id}")
            });
        }
    }
    Ok(())
}

fn describe(s: &SessionInfo) -> String {
    format!(
        "  session:  {}\n  method:   {}\n  expires:  {} (unix ms)\n  absolute: {} (unix ms)",
        s.id, s.auth_method, s.expires_at, s.absolute_expires_at
    )
}

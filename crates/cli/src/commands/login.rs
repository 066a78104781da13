use std::io::{BufRead, IsTerminal, Write};

use tandem_client::ClientError;
use tandem_client::profile::Profile;

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, args: LoginArgs) -> Result<(), ClientError> {
    let server = ctx.server_url();
    let api = ctx.client_for(&server, None)?;
    let (attempt_id, code) = match (&args.email, args.attempt) {
        (Some(email), _) => {
            let started = api.email_start(email).await?;
            if args.send_only {
                let shown = serde_json::json!({
                    "attempt_id": started.attempt_id,
                    "expires_at": started.expires_at,
                });
                output::print(json, &shown, || {
                    format!(
                        "Code sent to {email}. Finish with: tandem login --attempt {} --code <code>",
                        started.attempt_id
                    )
                });
                return Ok(());
            }
            let code = match args.code {
                Some(c) => c,
                None => prompt_code(email)?,
            };
            (started.attempt_id, code)
        }
        (None, Some(attempt)) => (attempt, args.code.unwrap_or_default()),
        (None, None) => {
            return Err(ClientError::Local(
                "give --email (or --attempt and --code)".into(),
            ));
        }
    };
    let login = api.email_verify(&attempt_id, code.trim()).await?;
    // Trust on first use: keep the key the server presents now, unless this machine already
    // pinned one for the same server, in which case a change is refused.
    let api = api.pin_server_key().await?;
    let server_key = api.server_key().map(hex::encode);
    if let Ok(Some(old)) = Profile::load(&ctx.dir)
        && old.server == server
        && old.server_key.is_some()
        && old.server_key != server_key
    {
        return Err(ClientError::Local(format!(
            "the server's channel key changed (pinned {}, now {}): refusing to log in; remove {} if this change is expected",
            old.server_key.unwrap_or_default(),
            server_key.unwrap_or_default(),
            ctx.dir.join("session.json").display()
        )));
    }
    let profile = Profile {
        server: server.clone(),
        token: login.token.clone(),
        email: login.user.email.clone(),
        session_id: login.session.id.clone(),
        server_key: server_key.clone(),
        ca_file: ctx
            .ca_file
            .as_ref()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .map(|p| p.display().to_string()),
    };
    profile.save(&ctx.dir)?;
    let shown = serde_json::json!({
        "server": server,
        "user": login.user,
        "session": login.session,
        "server_key": server_key,
    });
    output::print(json, &shown, || {
        format!(
            "Logged in to {server} as {} (session expires in {} min)",
            login.user.email,
            (login.session.expires_at - login.session.refreshed_at) / 60_000
        )
    });
    Ok(())
}

fn prompt_code(email: &str) -> Result<String, ClientError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Enter the 6-digit code sent to {email}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| ClientError::Local(format!("cannot read the code: {e}")))?;
    let code = line.trim().to_owned();
    if code.is_empty() {
        return Err(ClientError::Local("no code entered".into()));
    }
    Ok(code)
}

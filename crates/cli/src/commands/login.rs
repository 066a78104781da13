use std::io::{BufRead, IsTerminal, Write};

use tandem_client::ClientError;
use tandem_client::known_servers::{PinCheck, origin};
use tandem_client::profile::Profile;

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, args: LoginArgs) -> Result<(), ClientError> {
    let server = ctx.server_url();
    let api = ctx.client_for(&server, None)?;
    // The key is checked before anything else is sent: a server presenting another key than
    // the one pinned for its origin gets neither the email nor the code.
    let mut known = ctx.known_servers()?;
    if let Ok(Some(old)) = Profile::load(&ctx.dir)
        && origin(&old.server)? == origin(&server)?
    {
        crate::context::carry_over_legacy_pin(&mut known, &old)?;
    }
    let key = api.fetch_server_key().await?;
    let first_use = known.check(&server, &key)? == PinCheck::Unknown;
    let first = if let Some(provider) = &args.social {
        super::social::login(&api, provider, !args.no_browser).await
    } else if args.password || args.pin {
        let email = args.email.clone().unwrap_or_default();
        let secret = read_secret(if args.password { "Password: " } else { "PIN: " })?;
        if args.password {
            api.password_login(&email, &secret).await
        } else {
            api.pin_login(&email, &secret).await
        }
    } else {
        let (attempt_id, code) = match (&args.email, args.attempt.clone()) {
            (Some(email), _) => {
                let started = api.email_start(email).await?;
                if args.send_only {
                    let shown = serde_json::json!({
                        "attempt_id": started.attempt_id,
                        "expires_at": started.expires_at,
                    });
                    output::print(json, &shown, || {
                        format!(
                            "Code sent to {}. Finish with: tandem login --attempt {} --code <code>",
                            output::clean(email),
                            output::clean(&started.attempt_id)
                        )
                    });
                    return Ok(());
                }
                let code = match args.code.clone() {
                    Some(c) => c,
                    None => prompt_code(email)?,
                };
                (started.attempt_id, code)
            }
            (None, Some(attempt)) => (attempt, args.code.clone().unwrap_or_default()),
            (None, None) => {
                return Err(ClientError::Local(
                    "give --email (or --attempt and --code)".into(),
                ));
            }
        };
        api.email_verify(&attempt_id, code.trim()).await
    };
    let login = match first {
        Ok(login) => login,
        Err(e) => {
            let Some(second) = e.second_factor() else {
                return Err(e);
            };
            let code = match args.totp.clone() {
                Some(c) => c,
                None => prompt_line("Code from your authenticator app (or a recovery code): ")?,
            };
            api.second_factor(&second.ticket, second_factor_proof(&code))
                .await?
        }
    };
    // Trust on first use: an origin seen for the first time is pinned now, once the login
    // succeeded; a known one was checked above.
    known.pin(&server, key)?;
    let server_key = hex::encode(key);
    let profile = Profile {
        server: server.clone(),
        token: login.token.clone(),
        email: login.user.email.clone(),
        session_id: login.session.id.clone(),
        server_key: None,
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
        "server_key_pinned_now": first_use,
    });
    output::print(json, &shown, || {
        let who = if login.user.email.is_empty() {
            format!("user {}", login.user.id)
        } else {
            login.user.email.clone()
        };
        let mut text = format!(
            "Logged in to {} as {} (session expires in {} min)",
            output::clean(&server),
            output::clean(&who),
            (login.session.expires_at - login.session.refreshed_at) / 60_000
        );
        if first_use {
            text.push_str(&format!(
                "\nPinned this server's channel key {server_key}: compare it with the key the operator publishes"
            ));
        }
        text
    });
    Ok(())
}

/// A TOTP code is six digits; anything else is taken for a recovery code.
pub fn second_factor_proof(code: &str) -> tandem_client::proto::account::Proof {
    use tandem_client::proto::account::Proof;
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Proof::Totp {
            code: code.to_owned(),
        }
    } else {
        Proof::RecoveryCode {
            code: code.to_owned(),
        }
    }
}

/// A secret from the terminal without echo, or one line of standard input.
pub fn read_secret(prompt: &str) -> Result<String, ClientError> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map_err(|e| ClientError::Local(format!("cannot read it: {e}")));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| ClientError::Local(format!("cannot read it: {e}")))?;
    let value = line.trim_end_matches(['\r', '\n']).to_owned();
    if value.is_empty() {
        return Err(ClientError::Local("nothing entered".into()));
    }
    Ok(value)
}

/// One line, with a prompt on the terminal.
pub fn prompt_line(prompt: &str) -> Result<String, ClientError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| ClientError::Local(format!("cannot read it: {e}")))?;
    let value = line.trim().to_owned();
    if value.is_empty() {
        return Err(ClientError::Local("nothing entered".into()));
    }
    Ok(value)
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

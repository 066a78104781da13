//! `tandem account …`: the account's sign-in methods. An operation that needs a recent
//! sign-in asks for one method on the terminal (step-up) and is tried once more.

use tandem_client::proto::account::Proof;
use tandem_client::{ApiClient, ClientError};

use super::login::{prompt_line, read_secret, second_factor_proof};
use crate::cli::{AccountCommand, SecretCommand, TotpCommand};
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, cmd: AccountCommand) -> Result<(), ClientError> {
    let api = ctx.api()?;
    match cmd {
        AccountCommand::Show => show(&api, json).await,
        AccountCommand::Password(SecretCommand::Set) => {
            let password = new_secret("New password", "passwords")?;
            with_step_up(&api, || api.set_password(&password)).await?;
            done(json, "password", "set")
        }
        AccountCommand::Password(SecretCommand::Remove) => {
            with_step_up(&api, || api.remove_password()).await?;
            done(json, "password", "removed")
        }
        AccountCommand::Pin(SecretCommand::Set) => {
            let pin = new_secret("New PIN (4 to 8 digits)", "PINs")?;
            with_step_up(&api, || api.set_pin(&pin)).await?;
            done(json, "pin", "set")
        }
        AccountCommand::Pin(SecretCommand::Remove) => {
            with_step_up(&api, || api.remove_pin()).await?;
            done(json, "pin", "removed")
        }
        AccountCommand::Totp(TotpCommand::Enrol { code }) => totp_enrol(&api, json, code).await,
        AccountCommand::Totp(TotpCommand::Remove) => {
            with_step_up(&api, || api.remove_totp()).await?;
            done(json, "totp", "removed")
        }
        AccountCommand::LinkEmail { email } => {
            let started = with_step_up(&api, || api.link_email_start(&email)).await?;
            let code = prompt_line(&format!("Enter the 6-digit code sent to {email}: "))?;
            let identity = api.link_email_verify(&started.attempt_id, &code).await?;
            output::print(json, &identity, || {
                format!(
                    "Linked {} (identity {})",
                    output::clean(&identity.subject),
                    output::clean(&identity.id)
                )
            });
            Ok(())
        }
        AccountCommand::LinkSocial {
            provider,
            no_browser,
        } => {
            let flow = super::social::Loopback::bind().await?;
            let started = with_step_up(&api, || {
                api.link_social_start(&provider, &flow.redirect_uri, &flow.request)
            })
            .await?;
            let code = flow.wait(&started.authorization_url, !no_browser).await?;
            let identity = api.link_social_finish(&code, &flow.request).await?;
            output::print(json, &identity, || {
                format!(
                    "Linked {} (identity {})",
                    output::clean(&identity.subject),
                    output::clean(&identity.id)
                )
            });
            Ok(())
        }
        AccountCommand::Unlink { identity } => {
            with_step_up(&api, || api.unlink_identity(&identity)).await?;
            done(json, "identity", "removed")
        }
        AccountCommand::StepUp { method } => {
            let methods = match method {
                Some(m) => vec![m.replace('-', "_")],
                None => api.account().await.map(|a| available(&a))?,
            };
            let shown = step_up(&api, &methods).await?;
            output::print(json, &shown, || {
                let list: Vec<String> = shown
                    .methods
                    .iter()
                    .map(|m| output::clean(&m.method))
                    .collect();
                format!("This session has proven: {}", list.join(", "))
            });
            Ok(())
        }
    }
}

fn done(json: bool, what: &str, how: &str) -> Result<(), ClientError> {
    let shown = serde_json::json!({ "method": what, "result": how });
    output::print(json, &shown, || format!("The {what} was {how}."));
    Ok(())
}

/// Runs `op`; if the server wants a recent sign-in, proves a method and runs it once more.
pub(super) async fn with_step_up<T, F, Fut>(api: &ApiClient, op: F) -> Result<T, ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    match op().await {
        Err(e) => match e.step_up_methods() {
            Some(methods) => {
                eprintln!("This needs a recent sign-in.");
                step_up(api, &methods).await?;
                op().await
            }
            None => Err(e),
        },
        ok => ok,
    }
}

/// The methods to offer, in the order of preference.
fn available(account: &tandem_client::proto::account::AccountInfo) -> Vec<String> {
    let mut out = Vec::new();
    if account.password {
        out.push("password".to_owned());
    }
    if account.pin && !account.pin_locked {
        out.push("pin".to_owned());
    }
    if account.totp {
        out.push("totp".to_owned());
    }
    if account.identities.iter().any(|i| i.kind == "email") {
        out.push("email_otp".to_owned());
    }
    out
}

/// Proves the first method of `methods` this command knows how to ask for.
async fn step_up(
    api: &ApiClient,
    methods: &[String],
) -> Result<tandem_client::proto::account::StepUpResponse, ClientError> {
    let preferred = ["password", "pin", "totp", "recovery_code", "email_otp"];
    let Some(method) = preferred
        .iter()
        .find(|p| methods.iter().any(|m| m == *p))
        .copied()
    else {
        return Err(ClientError::Local(format!(
            "no method this command can prove (the server offers: {})",
            methods.join(", ")
        )));
    };
    let proof = match method {
        "password" => Proof::Password {
            password: read_secret("Password: ")?,
        },
        "pin" => Proof::Pin {
            pin: read_secret("PIN: ")?,
        },
        "totp" | "recovery_code" => second_factor_proof(&prompt_line(
            "Code from your authenticator app (or a recovery code): ",
        )?),
        _ => {
            let account = api.account().await?;
            let Some(email) = account
                .identities
                .iter()
                .find(|i| i.kind == "email")
                .map(|i| i.subject.clone())
            else {
                return Err(ClientError::Local("the account has no address".into()));
            };
            let started = api.email_start(&email).await?;
            let code = prompt_line(&format!("Enter the 6-digit code sent to {email}: "))?;
            Proof::EmailOtp {
                attempt_id: started.attempt_id,
                code,
            }
        }
    };
    api.step_up(proof).await
}

/// A new secret: twice on a terminal (they must match), once from standard input.
fn new_secret(prompt: &str, plural: &str) -> Result<String, ClientError> {
    use std::io::IsTerminal;
    let first = read_secret(&format!("{prompt}: "))?;
    if std::io::stdin().is_terminal() {
        let again = read_secret("Again: ")?;
        if again != first {
            return Err(ClientError::Local(format!("the {plural} differ")));
        }
    }
    Ok(first)
}

async fn show(api: &ApiClient, json: bool) -> Result<(), ClientError> {
    let account = api.account().await?;
    output::print(json, &account, || {
        let mut text = format!("Account {}\n", output::clean(&account.user_id));
        for i in &account.identities {
            text.push_str(&format!(
                "  {:<8} {}  (identity {})\n",
                output::clean(&i.kind),
                output::clean(&i.subject),
                output::clean(&i.id)
            ));
        }
        let yes = |b: bool| if b { "set" } else { "not set" };
        text.push_str(&format!("  password {}\n", yes(account.password)));
        text.push_str(&format!(
            "  PIN      {}{}\n",
            yes(account.pin),
            if account.pin_locked {
                " (locked: sign in another way to unlock it)"
            } else {
                ""
            }
        ));
        text.push_str(&format!(
            "  TOTP     {}{}\n",
            yes(account.totp),
            if account.totp {
                format!(" ({} recovery codes left)", account.recovery_codes_left)
            } else {
                String::new()
            }
        ));
        let proven: Vec<String> = account
            .session_methods
            .iter()
            .map(|m| output::clean(&m.method))
            .collect();
        text.push_str(&format!("This session has proven: {}", proven.join(", ")));
        text
    });
    Ok(())
}

async fn totp_enrol(api: &ApiClient, json: bool, code: Option<String>) -> Result<(), ClientError> {
    let enrolment = with_step_up(api, || api.totp_begin()).await?;
    if !json {
        eprintln!("Scan this with your authenticator app:\n");
        eprintln!("{}", qr(&enrolment.otpauth_uri)?);
        eprintln!("or type the key: {}\n", enrolment.secret);
    }
    let code = match code {
        Some(c) => c,
        None => prompt_line("Code the app shows now: ")?,
    };
    let codes = api.totp_confirm(code.trim()).await?;
    let shown = serde_json::json!({
        "otpauth_uri": enrolment.otpauth_uri,
        "recovery_codes": codes.recovery_codes,
    });
    output::print(json, &shown, || {
        format!(
            "The authenticator app is set up; sign-ins now ask for its code.\n\
             Recovery codes (each works once in place of a code; keep them offline, they are \
             not shown again):\n  {}",
            codes.recovery_codes.join("\n  ")
        )
    });
    Ok(())
}

/// The QR code of `text` in terminal blocks (two rows per character).
fn qr(text: &str) -> Result<String, ClientError> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| ClientError::Local(format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

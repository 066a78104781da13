//! The command line, in the style of one binary with consistent subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "Tandem: 2-of-2 MPC wallets you host yourself"
)]
pub struct Cli {
    /// Server URL (default: the saved login's server, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "TANDEM_SERVER")]
    pub server: Option<String>,
    /// Also trust this PEM CA certificate (e.g. a development server's certificate).
    #[arg(long, global = true, env = "TANDEM_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for each step of talking to the server (connecting, an HTTP answer,
    /// the ceremony socket's upgrade and handshake, each ceremony round) before giving up.
    #[arg(long, global = true, env = "TANDEM_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, alias = "format-json")]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the Tandem server.
    Serve(ServeArgs),
    /// Log in: a one-time code sent by email, or the account's password or PIN (then a TOTP
    /// code when the account has one).
    Login(LoginArgs),
    /// The account's sign-in methods: password, PIN, authenticator app (TOTP), addresses.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Create, list and refresh wallets.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Sign a message, typed data or a transaction with a wallet.
    #[command(subcommand)]
    Sign(SignCommand),
    /// Inspect, extend or end sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Set up, rotate or check the recovery secret.
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// Backup Kits: a wallet's server share sealed to your recovery secret.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Sign or export with a Backup Kit, the recovery secret and this device's share: no
    /// server needed.
    #[command(subcommand)]
    Offline(OfflineCommand),
    /// Load-test a running server: simulated devices log in, create wallets and sign.
    Bench(BenchArgs),
    /// Manage the server's key-encryption keys (run where the server runs, with its
    /// configuration; servers may keep running).
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Check the server's configuration (run where the server runs).
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// The server-side commands alone (`tandem serve|vault|config …`), parsed without the device
/// options (`--server`, `--ca-file`, `--timeout`), so that their help shows only what applies.
#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "Tandem: 2-of-2 MPC wallets you host yourself"
)]
pub struct ServerCli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, alias = "format-json")]
    pub json: bool,
    #[command(subcommand)]
    pub command: ServerCommand,
}

#[derive(Subcommand, Debug)]
pub enum ServerCommand {
    /// Run the Tandem server.
    Serve(ServeArgs),
    /// Manage the server's key-encryption keys.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Check the server's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

impl ServerCommand {
    /// The subcommand names that [`ServerCli`] parses.
    pub const NAMES: &[&str] = &["serve", "vault", "config"];
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets hidden) and test the database, the vault's
    /// key, the channel key, the TLS files and the mail relay; exits non-zero on any failure.
    Check {
        #[command(flatten)]
        server: ServerConfigArgs,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file (also `TANDEM_CONFIG`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (also `TANDEM_LISTEN`; default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory (also `TANDEM_DATA_DIR`; default ./tandem-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`; also `tls_cert` in the
    /// file, `TANDEM_TLS_CERT`). Reloaded on SIGHUP.
    #[arg(long, requires = "tls_key", conflicts_with = "dev_tls")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for `--tls-cert` (also `tls_key`, `TANDEM_TLS_KEY`).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a fresh self-signed certificate for localhost (development only); its
    /// certificate is written to `<data-dir>/dev-tls-cert.pem` for clients' `--ca-file`.
    #[arg(long)]
    pub dev_tls: bool,
    /// A reverse proxy in front terminates TLS (sets `tls_terminated_by_proxy`; production
    /// mode then accepts plain HTTP here).
    #[arg(long)]
    pub behind_tls_proxy: bool,
}

/// Where a `tandem vault` command finds the server's configuration (as `tandem serve`).
#[derive(Args, Debug)]
pub struct ServerConfigArgs {
    /// TOML configuration file (also `TANDEM_CONFIG`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (also `TANDEM_DATA_DIR`; default ./tandem-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProviderArg {
    Pkcs11,
}

#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Create or find the configured provider's KEK (in the token: non-extractable,
    /// sensitive AES-256; locally: the key file) and register it. Idempotent.
    Init {
        #[command(flatten)]
        server: ServerConfigArgs,
    },
    /// Rotate to a new KEK and re-wrap every stored data key under it (resumable: run again
    /// after an interruption to finish).
    Rotate {
        #[command(flatten)]
        server: ServerConfigArgs,
        /// Afterwards, destroy old KEKs no stored share names (see `tandem vault retire`).
        #[arg(long)]
        retire_old: bool,
        /// Destroy without asking (with `--retire-old`).
        #[arg(long)]
        yes: bool,
    },
    /// Move every stored data key from the local key file to the PKCS#11 token's KEK
    /// (resumable); then set `vault.provider = "pkcs11"`.
    Migrate {
        #[command(flatten)]
        server: ServerConfigArgs,
        /// The provider to move to.
        #[arg(long, value_enum)]
        to: ProviderArg,
        /// Afterwards, destroy the old KEK (deletes the local key file) once no share names it.
        #[arg(long)]
        retire_old: bool,
        /// Destroy without asking (with `--retire-old`).
        #[arg(long)]
        yes: bool,
    },
    /// Destroy old KEKs that no stored share names any more. Database backups taken before
    /// the rotation cannot be restored afterwards.
    Retire {
        #[command(flatten)]
        server: ServerConfigArgs,
        /// Destroy without asking (required when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Show the KEKs and how many stored shares each wraps.
    Status {
        #[command(flatten)]
        server: ServerConfigArgs,
    },
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Send a code to this address, then ask for it.
    #[arg(long, required_unless_present_any = ["attempt", "social"])]
    pub email: Option<String>,
    /// Only send the code and print the attempt id (for scripts; finish with
    /// `--attempt ID --code CODE`).
    #[arg(long, requires = "email", conflicts_with_all = ["attempt", "code"])]
    pub send_only: bool,
    /// Finish a login started with `--send-only`.
    #[arg(long, requires = "code", conflicts_with = "email")]
    pub attempt: Option<String>,
    /// The code from the email (prompted for when omitted).
    #[arg(long)]
    pub code: Option<String>,
    /// Sign in with the account's password instead of an emailed code (asked for on the
    /// terminal, or read from standard input).
    #[arg(long, requires = "email", conflicts_with_all = ["send_only", "code", "pin"])]
    pub password: bool,
    /// Sign in with the account's PIN instead of an emailed code.
    #[arg(long, requires = "email", conflicts_with_all = ["send_only", "code"])]
    pub pin: bool,
    /// The authenticator-app code (or a recovery code) when the account asks for a second
    /// factor (prompted for when omitted).
    #[arg(long)]
    pub totp: Option<String>,
    /// Sign in with an identity provider the server enabled (`google`, `apple`, `x`,
    /// `discord`, `facebook`, `oidc`): prints the URL to open (and opens it with `xdg-open`
    /// when present), then waits on 127.0.0.1 for the browser to come back.
    #[arg(long, conflicts_with_all = ["email", "attempt", "code", "password", "pin", "send_only"])]
    pub social: Option<String>,
    /// With `--social`: only print the URL, do not open a browser.
    #[arg(long, requires = "social")]
    pub no_browser: bool,
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Show the account's addresses and methods, and what this session proved.
    Show,
    /// Set, change or remove the password (needs a recent sign-in: step-up).
    #[command(subcommand)]
    Password(SecretCommand),
    /// Set, change or remove the PIN (4 to 8 digits).
    #[command(subcommand)]
    Pin(SecretCommand),
    /// Set up or remove an authenticator app (TOTP, with one-time recovery codes).
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Add an email address to the account (a code is sent to it).
    LinkEmail { email: String },
    /// Link an account at an identity provider (`google`, `apple`, `x`, `discord`,
    /// `facebook`, `oidc`) through the browser.
    LinkSocial {
        provider: String,
        /// Only print the URL, do not open a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Remove an address from the account (not the last one).
    Unlink {
        /// The identity id `tandem account show` lists.
        identity: String,
    },
    /// Prove a method again, for operations that need a recent sign-in.
    StepUp {
        /// `password`, `pin`, `totp`, `recovery-code` or `email` (default: the first the
        /// account has, in that order).
        #[arg(long)]
        method: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Set or replace it (asked for twice on the terminal, or read once from standard input).
    Set,
    /// Remove it.
    Remove,
}

#[derive(Subcommand, Debug)]
pub enum TotpCommand {
    /// Show a QR code (and the key) for an authenticator app, ask for its first code, and
    /// print the recovery codes.
    Enrol {
        /// The first code from the app (asked for when omitted).
        #[arg(long)]
        code: Option<String>,
    },
    /// Remove the authenticator app and its recovery codes.
    Remove,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChainArg {
    Evm,
    Solana,
}

#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// Create a wallet (a key generation ceremony with the server).
    Create {
        #[arg(long, value_enum)]
        chain: ChainArg,
    },
    /// List your wallets.
    List,
    /// Show one wallet.
    Show { wallet: String },
    /// Export the wallet's whole private key to this machine (needs a recent sign-in, and a
    /// TOTP code when the account has one). The server marks the wallet as exported.
    Export {
        wallet: String,
        /// Write the key into this new file (mode 0600) instead of printing it.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// `hex`, or `keystore` (an Ethereum keystore v3 JSON under a passphrase you choose;
        /// EVM only).
        #[arg(long, value_enum, default_value_t = KeyFormat::Hex)]
        format: KeyFormat,
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Refresh a wallet's key shares (same key and address, new shares).
    Refresh {
        wallet: String,
        /// Also renew the OT state (slower). Required to unfreeze a wallet frozen after
        /// detected cheating (log in again first) or to unlock a share this device locked.
        #[arg(long)]
        complete: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecoveryCommand {
    /// Make a new recovery secret on this device, show it once, ask for it back, and register
    /// its public key with the server (needs a recent sign-in). Run again to replace it.
    Setup {
        /// Write the secret into this new file (mode 0600) instead of showing it and asking
        /// for it back; move the file somewhere safe afterwards.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Show whether a recovery secret is set up, the escrows the server holds, and the
    /// newest recovery request.
    Status,
    /// On a new device, after losing every other: open a recovery of the account (needs a
    /// sign-in, the recovery secret, and a TOTP code when the account has TOTP). It completes
    /// after the waiting period (48 hours by default) unless cancelled.
    Start {
        /// Read the recovery secret from this file (else it is asked for).
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Cancel the recovery under way (from any signed-in device of the account).
    Cancel,
    /// After the waiting period: take the wallets over on this device. Every other session
    /// ends, and each wallet's shares are renewed at once, so the lost devices' shares die.
    Complete {
        /// Read the recovery secret from this file (else it is asked for).
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Download a wallet's Backup Kit (needs a recent sign-in, and a TOTP code when the
    /// account has one) and keep the share it pairs with on this device.
    Kit {
        wallet: String,
        /// Where to write it (default: the suggested name in the current directory).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OfflineCommand {
    /// Sign with a Backup Kit and this device's share, no server involved.
    Sign {
        /// The Backup Kit file.
        #[arg(long)]
        kit: PathBuf,
        /// Read the recovery secret from this file (else it is asked for).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        #[command(subcommand)]
        what: SignCommand,
    },
    /// Print the wallet's whole private key from a Backup Kit and this device's share.
    Export {
        /// The Backup Kit file.
        #[arg(long)]
        kit: PathBuf,
        /// Read the recovery secret from this file (else it is asked for).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Write the key into this new file (mode 0600) instead of printing it.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// `hex`, or `keystore` (an Ethereum keystore v3 JSON under a passphrase you choose;
        /// EVM only).
        #[arg(long, value_enum, default_value_t = KeyFormat::Hex)]
        format: KeyFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    Hex,
    Keystore,
}

#[derive(Subcommand, Debug)]
pub enum SignCommand {
    /// EIP-191 personal_sign.
    Message {
        #[arg(long)]
        wallet: String,
        /// The message is hex, not text.
        #[arg(long)]
        hex: bool,
        message: String,
    },
    /// EIP-712 typed data from a JSON file (`-` for stdin).
    TypedData {
        #[arg(long)]
        wallet: String,
        file: PathBuf,
    },
    /// An unsigned EVM transaction, hex (legacy EIP-155, EIP-2930 or EIP-1559).
    Tx {
        #[arg(long)]
        wallet: String,
        transaction: String,
    },
    /// A Solana transaction, base64 wire format (signature slots may be empty).
    SolanaTx {
        #[arg(long)]
        wallet: String,
        transaction: String,
    },
    /// A Solana off-chain message.
    SolanaMessage {
        #[arg(long)]
        wallet: String,
        #[arg(long)]
        hex: bool,
        message: String,
    },
    /// Raw bytes, as wallet-standard `solana:signMessage` (Sign-In-With-Solana); bytes that
    /// parse as a transaction message are refused.
    SolanaSignMessage {
        #[arg(long)]
        wallet: String,
        #[arg(long)]
        hex: bool,
        message: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// Show the current session.
    Status,
    /// Extend the current session.
    Refresh,
    /// End the current session.
    Logout,
    /// List your active sessions.
    List,
    /// Revoke one of your sessions.
    Revoke { id: String },
    /// Remove the channel key pinned for the server (`--server`, else the saved login's),
    /// after its operator confirmed the key changed; the next login pins the new one.
    ForgetServer,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<usize>,
    /// Seconds to run each (chain, concurrency) point (end to end, and again in process).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Alternating slices each point's two measurements are cut into (in process, end to
    /// end, in process, …), so that the machine's drift weighs on both alike.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub slices: u32,
    /// Wallets to create for the wallet-creation latency figure.
    #[arg(long, default_value_t = 10)]
    pub keygens: usize,
    /// Where the server's development outbox is (to read login codes).
    #[arg(long)]
    pub outbox: PathBuf,
    /// Also measure in-process MPC throughput on this machine for the ratio.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub baseline: bool,
    /// Signatures per chain timed step by step at concurrency 1 (0 skips the breakdown).
    #[arg(long, default_value_t = 50)]
    pub breakdown: usize,
    /// Round-trip time to add between the devices and the server (e.g. `50ms`): every
    /// connection goes through a local relay that delays each direction by half of it.
    #[arg(long, value_parser = crate::bench::parse_rtt)]
    pub rtt: Option<std::time::Duration>,
}

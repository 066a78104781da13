//! tandem-server: the domain services of a Tandem server and, later, its thin HTTP layer.
//!
//! Foundations (this layer): an injected [`clock`], layered [`config`], the [`store`]
//! (one `sqlx` `Any` code path for SQLite and PostgreSQL), the share [`vault`] (envelope
//! encryption under a KEK provider), outgoing mail in [`notify`], email one-time codes in
//! [`auth`] and bearer [`sessions`]. Each module owns its tables, its rules and its errors.

pub mod account;
pub mod auth;
pub mod channel_key;
pub mod clock;
pub mod config;
pub mod config_check;
mod conn_limit;
pub mod credentials;
pub mod failpoints;
pub mod hardening;
pub mod lifecycle;
pub mod notify;
pub mod principal;
pub mod production;
pub mod recovery;
pub mod sessions;
pub mod sms;
pub mod social;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod users;
pub mod vault;
pub mod vault_ops;

pub mod app;
pub mod ceremony;
pub mod http;
pub mod wallets;

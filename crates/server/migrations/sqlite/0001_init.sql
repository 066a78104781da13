-- Tandem schema, version 1 (SQLite). Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and versions; only the DDL dialect differs.
-- Ids are TEXT, times are BIGINT Unix milliseconds, binary values are BLOB.

CREATE TABLE users (
    id          TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- One row per login attempt (the id is the attempt id handed to the client).
CREATE TABLE otp_codes (
    id           TEXT PRIMARY KEY NOT NULL,
    email        TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    code_hash    BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    consumed_at  BIGINT NULL
);
CREATE INDEX otp_codes_email_created ON otp_codes (email, created_at);
CREATE INDEX otp_codes_ip_created ON otp_codes (client_ip, created_at);

CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY NOT NULL,
    user_id              TEXT NOT NULL REFERENCES users (id),
    token_hash           BLOB NOT NULL UNIQUE,
    auth_method          TEXT NOT NULL,
    user_agent           TEXT NULL,
    created_at           BIGINT NOT NULL,
    refreshed_at         BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    absolute_expires_at  BIGINT NOT NULL,
    revoked_at           BIGINT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE wallets (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    chain       TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    address     TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    version     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX wallets_user ON wallets (user_id);

CREATE TABLE server_shares (
    wallet_id    TEXT NOT NULL REFERENCES wallets (id),
    epoch        BIGINT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('staged', 'current')),
    kek_id       TEXT NOT NULL,
    wrapped_dek  BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (wallet_id, epoch)
);
-- At most one current share per wallet.
CREATE UNIQUE INDEX server_shares_one_current ON server_shares (wallet_id) WHERE state = 'current';

-- Tandem schema, version 7 (postgres), module `credentials`. Keep in step with
-- ../sqlite/0007_credentials.sql.
-- Secrets a user proves knowledge or possession of: a password, a PIN, a TOTP key. At most
-- one active credential of each kind per user, and at most one pending one (a TOTP enrolment
-- waiting for its first code). `secret_sealed` is AEAD under the vault's key, bound to
-- credentials/<kind>/<id>: the Argon2id hash (PHC string) of a password or PIN, or the TOTP
-- key, so a copy of the database alone allows no offline guessing and reveals no TOTP key.
CREATE TABLE credentials (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    kind           TEXT NOT NULL CHECK (kind IN ('password', 'pin', 'totp')),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'locked')),
    secret_sealed  BYTEA NOT NULL,
    -- Consecutive wrong guesses (the PIN's hard limit counts these).
    failures       BIGINT NOT NULL DEFAULT 0,
    -- TOTP: the last time step accepted (a code works once per step).
    last_step      BIGINT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX credentials_one_in_use ON credentials (user_id, kind) WHERE state <> 'pending';
CREATE UNIQUE INDEX credentials_one_pending ON credentials (user_id, kind) WHERE state = 'pending';

-- One-time TOTP recovery codes: only a keyed MAC of each is stored.
CREATE TABLE recovery_codes (
    credential_id  TEXT NOT NULL REFERENCES credentials (id),
    code_mac       BYTEA NOT NULL,
    used_at        BIGINT NULL,
    PRIMARY KEY (credential_id, code_mac)
);

-- Tandem schema, version 4 (postgres). Keep in step with ../sqlite/0004_auth_data_at_rest.sql.
-- Login codes and personal data at rest: keyed hashes and encryption under a key the
-- database does not hold, and login throttles that count atomically.

-- Random keys the vault needs besides share data keys, wrapped under a KEK like data keys
-- are (so a database copy alone opens nothing; in pkcs11 mode the wrapping key is in the HSM).
-- Rotation re-wraps them; their plaintext never changes, so MACs and blind indexes stay valid.
CREATE TABLE vault_data_keys (
    name         TEXT PRIMARY KEY NOT NULL,
    kek_id       TEXT NOT NULL,
    wrapped_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

-- The address moves to email_sealed (AEAD, bound to users/email/id) and email_index (keyed
-- blind index, the lookup key). The old column cannot be dropped on SQLite (UNIQUE), so it is
-- overwritten with the user id by the start-up migration and for every new user.
ALTER TABLE users ADD COLUMN email_index BYTEA NULL;
ALTER TABLE users ADD COLUMN email_sealed BYTEA NULL;
CREATE UNIQUE INDEX users_email_index ON users (email_index);

ALTER TABLE sessions ADD COLUMN user_agent_sealed BYTEA NULL;

-- Login attempts live minutes: the old rows (plaintext address and client IP, unkeyed code
-- hash) are dropped rather than converted; a code requested before the upgrade must be
-- requested again.
DROP TABLE otp_codes;
CREATE TABLE otp_codes (
    id            TEXT PRIMARY KEY NOT NULL,
    email_index   BYTEA NOT NULL,
    email_sealed  BYTEA NOT NULL,
    code_mac      BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    consumed_at   BIGINT NULL
);
CREATE INDEX otp_codes_email_index ON otp_codes (email_index);
CREATE INDEX otp_codes_expires ON otp_codes (expires_at);

-- Fixed-window counters, one row per (scope, keyed hash of what is counted). Taken with one
-- guarded UPSERT each, inside one transaction per request.
CREATE TABLE auth_throttles (
    scope         TEXT NOT NULL,
    bucket        BYTEA NOT NULL,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL,
    PRIMARY KEY (scope, bucket)
);
CREATE INDEX auth_throttles_window ON auth_throttles (window_start);

-- The lockout policy of each credential kind (JSON of auth::LockoutPolicy), shared by all
-- instances.
CREATE TABLE auth_policies (
    kind        TEXT PRIMARY KEY NOT NULL,
    policy      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

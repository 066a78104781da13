-- Tandem schema, version 10 (postgres), module `recovery`. Keep in step with
-- ../sqlite/0010_recovery.sql.
-- The public halves of each user's recovery secret: the X25519 key Backup Kits are sealed to,
-- and SHA-256 of the verifier. The secret itself is never sent to the server.
CREATE TABLE recovery_keys (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    public_key     BYTEA NOT NULL,
    verifier_hash  BYTEA NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
-- Every time a server share left sealed to the user (a Backup Kit, an export): the record
-- the user is shown, and what the daily limits count.
CREATE TABLE exits (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    wallet_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    epoch          BIGINT NOT NULL,
    session_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX exits_by_user ON exits (user_id, created_at);

-- Tandem schema, version 12 (sqlite), module `recovery`. Keep in step with
-- ../postgres/0012_recovery_requests.sql.
-- Each wallet's device share sealed to the account's recovery key (the server cannot open
-- it), the newest epoch only: what a recovering device receives after the delay.
CREATE TABLE escrows (
    wallet_id             TEXT PRIMARY KEY NOT NULL REFERENCES wallets (id),
    user_id               TEXT NOT NULL REFERENCES users (id),
    epoch                 INTEGER NOT NULL,
    recovery_key_version  INTEGER NOT NULL,
    sealed                BLOB NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX escrows_by_user ON escrows (user_id);
-- Recovery requests: pending until `not_before`, then completed or cancelled, exactly once.
-- At most one pending request per account.
CREATE TABLE recovery_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    state       TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    not_before  INTEGER NOT NULL,
    closed_at   INTEGER NULL,
    closed_by   TEXT NULL
);
CREATE UNIQUE INDEX recovery_requests_one_pending ON recovery_requests (user_id) WHERE state = 'pending';
CREATE INDEX recovery_requests_by_user ON recovery_requests (user_id, created_at);

-- Tandem schema, version 2 (SQLite). Keep in step with ../postgres/0002_vault_keks.sql.
-- KEK rotation: the registry of key-encryption keys, and a stage token for refreshes that
-- does not change when a rotation re-wraps the data key of a staged share.

-- Every KEK that has wrapped shares. Exactly one is `active`: new seals use it. `previous`
-- keys still open the shares a rotation has not reached yet; `retired` keys are destroyed.
CREATE TABLE vault_keks (
    kek_id      TEXT PRIMARY KEY NOT NULL,
    provider    TEXT NOT NULL CHECK (provider IN ('local', 'pkcs11')),
    state       TEXT NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT NULL
);
CREATE UNIQUE INDEX vault_keks_one_active ON vault_keks (state) WHERE state = 'active';

-- Random per stage; the refresh commit is guarded by it (it used to be the wrapped data key,
-- which a rotation rewrites).
ALTER TABLE server_shares ADD COLUMN stage_token BLOB NULL;
CREATE INDEX server_shares_kek ON server_shares (kek_id);

-- Tandem schema, version 13 (postgres), module `social`. Keep in step with
-- ../sqlite/0013_social_flows.sql.
-- One row per social sign-in or linking: started by a client, finished by the provider's
-- callback and then by the client's PKCE proof. Rows live minutes. The state sent to the
-- provider and the one-time code handed to the client are stored only as SHA-256; the
-- nonce, the PKCE verifier, the client's state and the verified identity only sealed.
CREATE TABLE social_flows (
    id              TEXT PRIMARY KEY NOT NULL,
    state_hash      BYTEA NOT NULL,
    provider        TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    user_id         TEXT NULL,
    session_id      TEXT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    secrets_sealed  BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    called_back_at  BIGINT NULL,
    code_hash       BYTEA NULL,
    code_expires_at BIGINT NULL,
    subject_sealed  BYTEA NULL,
    finished_at     BIGINT NULL
);
CREATE UNIQUE INDEX social_flows_state ON social_flows (state_hash);
CREATE UNIQUE INDEX social_flows_code ON social_flows (code_hash);
CREATE INDEX social_flows_expires ON social_flows (expires_at);

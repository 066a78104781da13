-- Tandem schema, version 8 (postgres), module `account`. Keep in step with
-- ../sqlite/0008_session_methods.sql.
-- Every method a session has proven and when (the login's, then each step-up): what
-- sensitive operations check. Stepping up adds or refreshes a row, never a new session.
CREATE TABLE session_methods (
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    method      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (session_id, method)
);

-- A login whose first factor passed and that waits for its second (TOTP). The ticket handed
-- to the client is a bearer secret: only its SHA-256 is stored. Lives minutes.
CREATE TABLE login_tickets (
    ticket_hash   BYTEA PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    first_method  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    consumed_at   BIGINT NULL
);
CREATE INDEX login_tickets_expires ON login_tickets (expires_at);

-- Tandem schema, version 5 (postgres). Keep in step with ../sqlite/0005_server_identity.sql.
-- Facts every instance of a deployment must agree on, registered by the first instance to
-- start: `channel_public_key` (hex), the public half of server-channel.key that devices pin.
-- An instance with another key refuses to start instead of failing one ceremony in N.
CREATE TABLE server_identity (
    name        TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

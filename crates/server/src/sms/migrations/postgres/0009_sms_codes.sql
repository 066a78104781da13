-- Tandem schema, version 9 (postgres), module `sms`. Keep in step with
-- ../sqlite/0009_sms_codes.sql.
-- SMS login attempts, laid out like otp_codes (auth::codes reads both): the number only
-- sealed and as a keyed blind index, the code only as a keyed MAC. Rows live minutes.
CREATE TABLE sms_codes (
    id            TEXT PRIMARY KEY NOT NULL,
    phone_index   BYTEA NOT NULL,
    phone_sealed  BYTEA NOT NULL,
    code_mac      BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    consumed_at   BIGINT NULL
);
CREATE INDEX sms_codes_phone_index ON sms_codes (phone_index);
CREATE INDEX sms_codes_expires ON sms_codes (expires_at);

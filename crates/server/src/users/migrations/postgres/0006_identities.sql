-- Tandem schema, version 6 (postgres), module `users`. Keep in step with
-- ../sqlite/0006_identities.sql.
-- What a user can be found by at login: an email address, later a phone number, an OpenID
-- subject (issuer + subject) or a passkey. One row per identity; an identity belongs to one
-- user, so linking one that another account holds is refused rather than merged.
-- The subject is stored only sealed (AEAD bound to identities/<kind>/<id>) and as a keyed
-- blind index (the lookup key), under keys the database does not hold (vault::PiiKeys).
-- Email addresses of users created before this version stay in users.email_index and are
-- moved here the first time the account is used (users::Users), which works while an older
-- instance still runs during a rolling upgrade.
CREATE TABLE identities (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    kind            TEXT NOT NULL,
    subject_index   BYTEA NOT NULL,
    subject_sealed  BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NULL
);
CREATE UNIQUE INDEX identities_subject ON identities (kind, subject_index);
CREATE INDEX identities_user ON identities (user_id);

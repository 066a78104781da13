-- Tandem schema, version 11 (sqlite), module `wallets`. Keep in step with
-- ../postgres/0011_wallet_exported.sql.
-- When the user last took the whole key out (an online export): from then on the server can
-- no longer promise the key never existed in one place, and says so.
ALTER TABLE wallets ADD COLUMN exported_at INTEGER NULL;

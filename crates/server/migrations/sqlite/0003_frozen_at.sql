-- When a wallet was frozen after detected cheating: only a session opened later may unfreeze
-- it (with a complete refresh).
ALTER TABLE wallets ADD COLUMN frozen_at BIGINT;

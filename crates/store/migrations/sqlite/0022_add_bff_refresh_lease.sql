-- A BFF node about to refresh a session's tokens first takes this lease (a compare-and-swap on
-- `version` while no live lease is held); other nodes wait for the new tokens instead of spending
-- the same refresh token, which a rotating provider would treat as reuse. Storing new tokens
-- clears the lease.
ALTER TABLE bff_sessions ADD COLUMN refresh_lease_until INTEGER;

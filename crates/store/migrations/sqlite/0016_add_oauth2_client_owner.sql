-- A client a signed-in person registered for themselves (`POST /api/client/register`, the
-- account page) names them as its owner; clients created by operators or through dynamic
-- registration have none. The index makes "this person's clients" a keyset-paged lookup, not a
-- scan. Deleting the identity deactivates its clients (in the same transaction) and the foreign
-- key clears the owner, so no client points at an identity that is gone.
ALTER TABLE oauth2_clients ADD COLUMN owner_identity_id BLOB REFERENCES identities (id) ON DELETE SET NULL;
CREATE INDEX oauth2_clients_owner ON oauth2_clients (owner_identity_id, id);

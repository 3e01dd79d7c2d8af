-- Recovery and verification look an identity up by one of its addresses: without this index
-- that lookup would read every address.
CREATE INDEX identity_addresses_value ON identity_addresses (value, kind, via);

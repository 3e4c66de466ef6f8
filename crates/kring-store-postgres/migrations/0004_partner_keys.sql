-- Public keys (a JWK Set) of partner systems that authenticate with private_key_jwt (SMART
-- Backend Services) instead of a client secret.
ALTER TABLE partner_clients ADD COLUMN jwks TEXT;

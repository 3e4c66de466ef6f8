-- Partner systems that connect with OAuth2 client credentials. The secret is kept only as an
-- argon2id hash; scopes are SMART v2 system scopes, space-separated.
CREATE TABLE partner_clients (
    client_id TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created BIGINT NOT NULL
);

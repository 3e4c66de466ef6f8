-- People who sign in (professionals, clients, representatives, officers, administrators) and
-- their server-side sessions. Both hold a JSON document owned by kring-server's auth module:
-- password hashes (argon2id), TOTP secrets, recovery-code hashes, lock-out counters. A session
-- is found by the SHA-256 of its cookie, never by the cookie itself.
CREATE TABLE accounts (
    username TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);

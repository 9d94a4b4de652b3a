-- Credentials of the server's clients and workers, each bound to one namespace. A client's API key
-- is kept only as its SHA-256 (keys are long random strings, so a plain hash cannot be reversed);
-- a worker's secret is kept as it is, because HMAC needs it to check a signature.
CREATE TABLE credentials (
    kind        TEXT NOT NULL,          -- 'client' or 'worker'
    name        TEXT NOT NULL,          -- the client's name or the worker's id
    namespace   TEXT NOT NULL,
    secret      TEXT,                   -- worker: the HMAC secret
    key_hash    TEXT,                   -- client: sha256 of the API key, hex
    created_at  REAL NOT NULL,
    revoked_at  REAL,
    PRIMARY KEY (kind, name)
);
CREATE UNIQUE INDEX credentials_key_hash ON credentials (key_hash);

-- Nonces of worker handshakes seen within the signature window: a replayed handshake is refused.
CREATE TABLE auth_nonces (
    worker_id   TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    seen_at     REAL NOT NULL,
    PRIMARY KEY (worker_id, nonce)
);
CREATE INDEX auth_nonces_seen ON auth_nonces (seen_at);

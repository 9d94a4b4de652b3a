-- Credentials of the server's clients and workers, each bound to one namespace. A client's API key
-- is kept only as its SHA-256 (keys are long random strings, so a plain hash cannot be reversed);
-- a worker's secret is kept as it is, because HMAC needs it to check a signature.
CREATE TABLE credentials (
    kind        text NOT NULL,          -- 'client' or 'worker'
    name        text NOT NULL,          -- the client's name or the worker's id
    namespace   text NOT NULL,
    secret      text,                   -- worker: the HMAC secret
    key_hash    text,                   -- client: sha256 of the API key, hex
    created_at  double precision NOT NULL,
    revoked_at  double precision,
    PRIMARY KEY (kind, name)
);
CREATE UNIQUE INDEX credentials_key_hash ON credentials (key_hash);

-- Nonces of worker handshakes seen within the signature window: a replayed handshake is refused.
CREATE TABLE auth_nonces (
    worker_id   text NOT NULL,
    nonce       text NOT NULL,
    seen_at     double precision NOT NULL,
    PRIMARY KEY (worker_id, nonce)
);
CREATE INDEX auth_nonces_seen ON auth_nonces (seen_at);

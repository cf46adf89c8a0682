-- The SIHCE systems that obtain access tokens with OAuth client credentials and
-- private_key_jwt (SMART Backend Services), registered by an administrator: each acts
-- for one IPRESS (its RENIPRESS code) and proves itself with a key of its JWKS.
CREATE TABLE auth_clients (
    client_id TEXT PRIMARY KEY,
    renipress TEXT NOT NULL,
    -- The client's public keys, a JSON Web Key Set; replaced to rotate them.
    jwks TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- Microseconds since the Unix epoch.
    updated_at BIGINT NOT NULL
);

-- The `jti` of every client assertion accepted, until it expires: a second use of one
-- is refused by the primary key, never by a search-then-insert.
CREATE TABLE auth_assertions (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    -- Unix seconds: the assertion's `exp`, after which the row may go.
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX auth_assertions_expiry_idx ON auth_assertions (expires_at);

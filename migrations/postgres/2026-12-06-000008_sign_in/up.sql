-- People signed in through an identity provider: one row per sign-in (an OAuth session
-- of the registry). Every access, refresh and ID token of a sign-in names its id (`sid`),
-- so ending the row (logout, revocation, a refresh token used twice) ends them all.
CREATE TABLE sign_in_sessions (
    id TEXT PRIMARY KEY,
    -- The app (OAuth client) the person signed in to.
    client_id TEXT NOT NULL,
    -- Who: the identity provider's name and its `sub`, as `provider|sub`.
    subject TEXT NOT NULL,
    -- The person as the registry recognised them (role, IPRESS, colegiatura, identity
    -- document, name), JSON: fixed for the session's life.
    person TEXT NOT NULL,
    -- The scopes granted, space-separated.
    scope TEXT NOT NULL,
    -- Unix seconds.
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    ended_why TEXT
);
CREATE INDEX sign_in_sessions_subject_idx ON sign_in_sessions (subject);

-- Single-use handles given out during a sign-in: a login in flight at the identity
-- provider (`login`), an authorization code (`code`), a refresh token (`refresh`). Only
-- the SHA-256 of each is kept, so a copy of the table opens nothing; one is used by an
-- UPDATE that only succeeds while it is unused, so two concurrent uses cannot both pass.
CREATE TABLE sign_in_handles (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT,
    -- What the handle carries, JSON (the app's request, the PKCE challenge, …).
    payload TEXT NOT NULL,
    -- Unix seconds.
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sign_in_handles_session_idx ON sign_in_handles (session_id);
CREATE INDEX sign_in_handles_expiry_idx ON sign_in_handles (expires_at);

-- SQLite twin of migrations/postgres: INTEGER PRIMARY KEY is SQLite's 64-bit rowid,
-- AUTOINCREMENT keeps a deleted pk from ever being reused.
-- FHIR resources: one row per logical resource (current state and search columns),
-- every version's body in resource_versions, search parameters extracted into
-- typed index tables. Times are microseconds since the Unix epoch, UTC, so that both
-- backends store, compare and index them identically.
CREATE TABLE resources (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id BIGINT NOT NULL CHECK (version_id >= 1),
    last_updated BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT 0,
    CONSTRAINT resources_type_id_key UNIQUE (resource_type, id)
);
CREATE INDEX resources_type_updated_idx ON resources (resource_type, last_updated);

CREATE TABLE resource_versions (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    version_id BIGINT NOT NULL CHECK (version_id >= 1),
    last_updated BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT 0,
    -- The resource as JSON text, exactly as the model serialised it; NULL for a deletion.
    body TEXT,
    PRIMARY KEY (resource_pk, version_id)
);

-- token search parameters (identifier, code, status, …): system may be NULL.
CREATE TABLE search_tokens (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    param TEXT NOT NULL,
    system TEXT,
    code TEXT NOT NULL
);
CREATE INDEX search_tokens_lookup_idx ON search_tokens (param, code, system);
CREATE INDEX search_tokens_resource_idx ON search_tokens (resource_pk);

-- string search parameters, stored normalised (lower case, accents removed).
CREATE TABLE search_strings (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    param TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX search_strings_lookup_idx ON search_strings (param, value);
CREATE INDEX search_strings_resource_idx ON search_strings (resource_pk);

-- date search parameters as the closed range [low, high] their precision implies.
CREATE TABLE search_dates (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    param TEXT NOT NULL,
    low BIGINT NOT NULL,
    high BIGINT NOT NULL,
    CHECK (low <= high)
);
CREATE INDEX search_dates_lookup_idx ON search_dates (param, low, high);
CREATE INDEX search_dates_resource_idx ON search_dates (resource_pk);

-- reference search parameters (subject, custodian, …) as type and logical id.
CREATE TABLE search_references (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    param TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL
);
CREATE INDEX search_references_lookup_idx ON search_references (param, target_type, target_id);
CREATE INDEX search_references_resource_idx ON search_references (resource_pk);

-- Which search parameters the index holds for every resource: search parameters added
-- to the registry after resources were written are indexed for those resources when a
-- server of the new build starts (its `INDEX_UPGRADES`, in order), and this row says
-- how far that went. 1: every parameter of the builds before this migration.
CREATE TABLE search_index_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO search_index_version (id, version) VALUES (1, 1);

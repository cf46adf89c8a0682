-- SQLite twin of migrations/postgres: a string search is a range of values in code
-- point order, SQLite's BINARY collation, which the index already had; said here so the
-- two trees agree on what the index is for.
DROP INDEX search_strings_lookup_idx;
CREATE INDEX search_strings_lookup_idx ON search_strings (param, value COLLATE BINARY);

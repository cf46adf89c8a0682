DROP INDEX search_strings_lookup_idx;
CREATE INDEX search_strings_lookup_idx ON search_strings (param, value);

INSERT INTO search_references (resource_pk, param, target_type, target_id)
SELECT resource_pk, 'subject', target_type, target_id FROM search_references WHERE param = 'patient';
INSERT INTO search_tokens (resource_pk, param, system, code)
SELECT pk, '_id', NULL, id FROM resources WHERE NOT deleted;
DROP TABLE record_entries;
DROP INDEX search_tokens_resource_idx;
CREATE INDEX search_tokens_resource_idx ON search_tokens (resource_pk);
DROP INDEX search_strings_resource_idx;
CREATE INDEX search_strings_resource_idx ON search_strings (resource_pk);
DROP INDEX search_dates_resource_idx;
CREATE INDEX search_dates_resource_idx ON search_dates (resource_pk);
DROP INDEX search_references_resource_idx;
CREATE INDEX search_references_resource_idx ON search_references (resource_pk);

INSERT INTO search_references (resource_pk, param, target_type, target_id)
SELECT resource_pk, 'subject', target_type, target_id FROM search_references WHERE param = 'patient';
INSERT INTO search_tokens (resource_pk, param, system, code)
SELECT pk, '_id', NULL, id FROM resources WHERE NOT deleted;
DROP TABLE record_entries;

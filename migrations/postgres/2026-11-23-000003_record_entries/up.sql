-- The record index proper: one row per index entry (DocumentReference) with what
-- `$record-locations` answers from, so that "where are this patient's records?" is one
-- grouped scan of one index instead of a join over the generic search tables.
CREATE TABLE record_entries (
    resource_pk BIGINT PRIMARY KEY REFERENCES resources (pk) ON DELETE CASCADE,
    patient_id TEXT NOT NULL,
    custodian_id TEXT NOT NULL,
    status TEXT NOT NULL,
    -- DocumentReference.date, microseconds since the Unix epoch.
    date BIGINT,
    -- The type codings, a JSON array of {system, code, display}.
    types TEXT NOT NULL
);
CREATE INDEX record_entries_patient_idx ON record_entries (patient_id, status, custodian_id);

INSERT INTO record_entries (resource_pk, patient_id, custodian_id, status, date, types)
SELECT r.pk, p.target_id, c.target_id, s.code,
       (SELECT MIN(d.low) FROM search_dates d WHERE d.resource_pk = r.pk AND d.param = 'date'),
       COALESCE((SELECT json_agg(json_strip_nulls(json_build_object('system', t.system, 'code', t.code))
                                 ORDER BY t.system, t.code)::text
                 FROM search_tokens t WHERE t.resource_pk = r.pk AND t.param = 'type'), '[]')
FROM resources r
JOIN search_references p ON p.resource_pk = r.pk AND p.param = 'patient'
JOIN search_references c ON c.resource_pk = r.pk AND c.param = 'custodian'
JOIN search_tokens s ON s.resource_pk = r.pk AND s.param = 'status'
WHERE r.resource_type = 'DocumentReference' AND NOT r.deleted;

-- `_id` is answered from resources.id and `subject` from the `patient` rows: the copies
-- only cost space and write time.
DELETE FROM search_tokens WHERE param = '_id';
DELETE FROM search_references WHERE param = 'subject';

-- The per-resource indexes lead with the resource and carry the parameter and value, so
-- a search's probe "does this resource have status = current?" is one index lookup,
-- whatever the planner's statistics say (a bitmap over every current entry is not).
DROP INDEX search_tokens_resource_idx;
CREATE INDEX search_tokens_resource_idx ON search_tokens (resource_pk, param, code);
DROP INDEX search_strings_resource_idx;
CREATE INDEX search_strings_resource_idx ON search_strings (resource_pk, param, value);
DROP INDEX search_dates_resource_idx;
CREATE INDEX search_dates_resource_idx ON search_dates (resource_pk, param, low);
DROP INDEX search_references_resource_idx;
CREATE INDEX search_references_resource_idx ON search_references (resource_pk, param, target_id);

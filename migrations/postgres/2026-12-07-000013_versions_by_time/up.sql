-- The history of a whole type (`GET /fhir/Patient/_history`) pages newest first by
-- (last_updated, resource_pk, version_id), from `_since` on: this index serves that
-- order and bound, so a page reads its rows instead of sorting the table.
CREATE INDEX resource_versions_updated_idx
    ON resource_versions (last_updated DESC, resource_pk DESC, version_id DESC);

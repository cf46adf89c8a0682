-- SQLite twin of migrations/postgres. What each active Consent grants, one row per permitting provision: the registry
-- decides "may this IPRESS or clinician see this patient's records, for this purpose,
-- now?" from these rows alone. Written with the Consent's version and replaced by the
-- next one, so a revocation (status inactive) removes them in the same transaction.
CREATE TABLE consent_grants (
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    -- `Organization/<id>` (an IPRESS) or `colegiatura|<college>|<number>` (a clinician).
    grantee TEXT NOT NULL,
    -- The purposes of use (v3 ActReason codes) separated by spaces; empty: any purpose.
    purposes TEXT NOT NULL,
    -- The provision's period, microseconds since the Unix epoch; NULL: open.
    starts BIGINT,
    ends BIGINT,
    -- Whether the grant covers entries labelled restricted or very restricted.
    sensitive BOOLEAN NOT NULL,
    PRIMARY KEY (resource_pk, position)
);
CREATE INDEX consent_grants_patient_idx ON consent_grants (patient_id, grantee);

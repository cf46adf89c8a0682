-- SQLite twin of migrations/postgres: whether an index entry is labelled sensitive
-- (securityLabel R or V of v3 Confidentiality).
ALTER TABLE record_entries ADD COLUMN sensitive BOOLEAN NOT NULL DEFAULT 0;
UPDATE record_entries SET sensitive = 1
WHERE resource_pk IN (
    SELECT resource_pk FROM search_tokens
    WHERE param = 'security-label' AND code IN ('R', 'V')
      AND system = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality'
);

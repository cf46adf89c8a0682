-- Whether an index entry is labelled sensitive (securityLabel R "restricted" or V "very
-- restricted" of v3 Confidentiality): such entries of another IPRESS stay out of
-- emergency access, and will need a consent that covers them.
ALTER TABLE record_entries ADD COLUMN sensitive BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE record_entries SET sensitive = TRUE
WHERE resource_pk IN (
    SELECT resource_pk FROM search_tokens
    WHERE param = 'security-label' AND code IN ('R', 'V')
      AND system = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality'
);

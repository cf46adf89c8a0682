-- Who acted, searchable (AuditEvent `agent-name`): the words of the acting person's name,
-- or the client's id for a SIHCE, folded (lower case, no accents) and each preceded by a
-- space, so a search for a word's start is one LIKE. Events written before this column
-- have none (they are still in the hash chain as written: the digest of an event covers
-- this column only when it is set).
ALTER TABLE audit_events ADD COLUMN agent_name TEXT;

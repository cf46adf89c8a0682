-- The audit trail: one row per AuditEvent, written in the transaction of the change it
-- records (or on its own for reads and refusals), never updated, never deleted.
CREATE TABLE audit_events (
    -- Insertion order; what the pages of a search follow.
    seq BIGSERIAL PRIMARY KEY,
    -- AuditEvent.id (time-ordered UUIDs, so the index grows at its right edge).
    id TEXT NOT NULL UNIQUE,
    -- AuditEvent.recorded, microseconds since the Unix epoch.
    recorded BIGINT NOT NULL,
    -- The patient the event concerns (one event per patient, as BALP asks).
    patient_id TEXT,
    -- The caller's IPRESS (RENIPRESS code) and role, when known.
    ipress TEXT,
    role TEXT,
    -- AuditEvent.action (C, R, U, D, E) and outcome (0, 4, 8, 12).
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    -- The AuditEvent as FHIR JSON.
    body TEXT NOT NULL,
    -- SHA-256 of the columns above, computed by the writer: what the sealer chains
    -- without reading the bodies back.
    digest BYTEA NOT NULL,
    -- The writing transaction: the sealer takes the events of every transaction that
    -- has ended, exactly once, without a queue.
    xid BIGINT NOT NULL DEFAULT txid_current()
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, seq);
-- Events are 1.5 to 5 kB of JSON, past the size at which PostgreSQL compresses a row:
-- lz4 does it at a fraction of the CPU of the default pglz. A server built without lz4
-- keeps its default; nothing else depends on the choice.
DO $$
BEGIN
    ALTER TABLE audit_events ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    NULL;
END
$$;
CREATE INDEX audit_events_xid_idx ON audit_events (xid);

-- The hash chain, in sealing order: each link's hash covers the previous link's hash,
-- its position and its event's digest, so altering, removing or reordering an event or
-- a link breaks the chain where it happened.
CREATE TABLE audit_chain (
    position BIGINT PRIMARY KEY,
    event_seq BIGINT NOT NULL UNIQUE,
    digest BYTEA NOT NULL,
    hash BYTEA NOT NULL
);

-- How far the sealer has come: the oldest transaction id not yet sealed.
CREATE TABLE audit_sealer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_below BIGINT NOT NULL
);
INSERT INTO audit_sealer (id, sealed_below) VALUES (1, 0);

-- Append-only, enforced by the database: updates, deletions and truncation are refused.
-- (Whoever can disable the triggers can edit rows; the chain then shows where.)
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

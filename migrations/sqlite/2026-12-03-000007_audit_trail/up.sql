-- SQLite twin of migrations/postgres: the audit trail, its pending seals and its hash
-- chain, append-only by triggers.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recorded BIGINT NOT NULL,
    patient_id TEXT,
    ipress TEXT,
    role TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, seq);

CREATE TABLE audit_pending (
    event_seq BIGINT PRIMARY KEY
);

CREATE TABLE audit_chain (
    position BIGINT PRIMARY KEY,
    event_seq BIGINT NOT NULL UNIQUE,
    -- The digest of the event's row when it was sealed.
    digest BLOB NOT NULL,
    hash BLOB NOT NULL
);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE on audit_events refused'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE on audit_events refused'); END;
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE on audit_chain refused'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE on audit_chain refused'); END;

-- SQLite twin of migrations/postgres: the audit trail and its hash chain, append-only
-- by triggers. SQLite has one writer at a time, so insertion order is commit order and
-- the sealer follows `seq` (the `xid` column is unused here).
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recorded BIGINT NOT NULL,
    patient_id TEXT,
    ipress TEXT,
    role TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    body TEXT NOT NULL,
    digest BLOB NOT NULL,
    xid BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, seq);

CREATE TABLE audit_chain (
    position BIGINT PRIMARY KEY,
    event_seq BIGINT NOT NULL UNIQUE,
    digest BLOB NOT NULL,
    hash BLOB NOT NULL
);

-- How far the sealer has come: the last `seq` sealed.
CREATE TABLE audit_sealer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_below BIGINT NOT NULL
);
INSERT INTO audit_sealer (id, sealed_below) VALUES (1, 0);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE on audit_events refused'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE on audit_events refused'); END;
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE on audit_chain refused'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE on audit_chain refused'); END;

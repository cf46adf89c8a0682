DROP TABLE audit_chain;
DROP TABLE audit_pending;
DROP TABLE audit_events;

ALTER TABLE audit_events DROP COLUMN agent_name;

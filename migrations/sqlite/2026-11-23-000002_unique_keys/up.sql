-- Business keys that at most one current resource of a type may hold: a patient's
-- identity documents (`kind|country|number`, e.g. `1|PER|45678912`), an IPRESS's
-- RENIPRESS code. The primary key makes the database refuse a second holder, so two
-- concurrent writers cannot both pass a check-then-insert. A resource's keys are
-- replaced with each version and dropped with it.
CREATE TABLE unique_keys (
    resource_type TEXT NOT NULL,
    key TEXT NOT NULL,
    resource_pk BIGINT NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    PRIMARY KEY (resource_type, key)
);
CREATE INDEX unique_keys_resource_idx ON unique_keys (resource_pk);

ALTER TABLE auth_clients DROP COLUMN scope;

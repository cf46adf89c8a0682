-- The SMART system/ scopes a SIHCE client may be granted (space-separated); NULL: every
-- scope its role allows (system/*.cruds), as before this migration.
ALTER TABLE auth_clients ADD COLUMN scope TEXT;

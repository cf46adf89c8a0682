ALTER TABLE record_entries DROP COLUMN sensitive;

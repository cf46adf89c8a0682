DROP TABLE unique_keys;

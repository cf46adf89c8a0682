DROP TABLE search_index_version;

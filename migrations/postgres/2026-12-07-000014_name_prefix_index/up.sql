-- A string search is a prefix, run as a range of values in code point order (`value >=
-- prefix AND value < the next prefix`), which an index in the "C" collation answers
-- whether or not the plan knows the prefix. The index it replaces, in the database's
-- collation, could not serve a prefix: a name search read every value of its parameter.
DROP INDEX search_strings_lookup_idx;
CREATE INDEX search_strings_lookup_idx ON search_strings (param, value COLLATE "C");

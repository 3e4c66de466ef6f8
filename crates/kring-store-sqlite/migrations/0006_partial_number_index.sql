-- Only date, number and quantity values have a number (n1): the index of numbers leaves out the
-- string, token, reference and uri rows, most of the table, so writing a resource updates one
-- B-tree fewer for each of those rows. Every number search says `i.n1 IS NOT NULL`, the
-- condition that lets SQLite and PostgreSQL use this partial index.
DROP INDEX search_index_n1;
CREATE INDEX search_index_n1 ON search_index (res_type, param, n1) WHERE n1 IS NOT NULL;

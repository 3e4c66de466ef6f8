-- The index of string, token, reference and uri values also carries the resource id, so a
-- search whose value many resources share (a common code, a frequent surname) reads its
-- matches from the index alone instead of looking up every index row in the table.
DROP INDEX search_index_s1;
CREATE INDEX search_index_s1 ON search_index (res_type, param, s1, s2, res_id);

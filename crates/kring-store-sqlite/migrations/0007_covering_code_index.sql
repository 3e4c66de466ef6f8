-- The index of values searched without their first column (a code without its system, an exact
-- string, a reference by id alone) also carries the resource id, so the matches of one value
-- come out ordered by resource id: the first page of a value that many resources share is read
-- without collecting and sorting every match. Only rows with such a value are in it (dates,
-- numbers and uris have none), and every query of it says `s2 = …`, which implies that.
DROP INDEX search_index_s2;
CREATE INDEX search_index_s2 ON search_index (res_type, param, s2, res_id) WHERE s2 IS NOT NULL;

-- Each client's dates, numbers and quantities by parameter and end of interval: a search within
-- a caller's few clients finds a range ("sent after my last visit") among those clients' rows
-- alone, instead of checking the date of every resource of theirs (a client's 2,000 messages to
-- learn that none is new) or listing the whole region's rows in range. Ordered by the end
-- (`n2`), which `gt`/`ge` compare; the start (`n1`) and the id follow, so every range is read
-- from the index alone. Partial, like `search_index_n1`: text rows have no number.
CREATE INDEX search_index_client_dates ON search_index (client_key, res_type, param, n2, n1, res_id)
    WHERE n1 IS NOT NULL;

-- The record: every version of every resource as its exact JSON bytes, and the search index.
-- Every client-scoped row carries client_key (the Patient id; '' for shared resources).

CREATE TABLE resource_keys (
    res_type   TEXT NOT NULL,
    id         TEXT NOT NULL,
    client_key TEXT NOT NULL,
    PRIMARY KEY (res_type, id)
);

CREATE TABLE resources (
    client_key   TEXT    NOT NULL,
    res_type     TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    deleted      SMALLINT NOT NULL,
    body         BYTEA NOT NULL,
    PRIMARY KEY (client_key, res_type, id)
);
CREATE INDEX resources_by_type_id ON resources (res_type, id);
CREATE INDEX resources_by_updated ON resources (res_type, last_updated);

CREATE TABLE resource_versions (
    client_key   TEXT    NOT NULL,
    res_type     TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    deleted      SMALLINT NOT NULL,
    body         BYTEA NOT NULL,
    PRIMARY KEY (client_key, res_type, id, version)
);
CREATE INDEX resource_versions_by_time ON resource_versions (last_updated);
CREATE INDEX resource_versions_by_type_id ON resource_versions (res_type, id, version);

-- One row per searchable value. Columns by parameter type:
--   string: s1 normalised, s2 exact | token: s1 system, s2 code, s3 text
--   reference: s1 target type, s2 target id, s3 url | uri: s1
--   date: n1/n2 ms since epoch | number: n1/n2 | quantity: s1 system, s2 code, n1/n2
CREATE TABLE search_index (
    client_key TEXT NOT NULL,
    res_type   TEXT NOT NULL,
    res_id     TEXT NOT NULL,
    param      TEXT NOT NULL,
    s1 TEXT COLLATE "C",
    s2 TEXT COLLATE "C",
    s3 TEXT COLLATE "C",
    n1 DOUBLE PRECISION,
    n2 DOUBLE PRECISION
);
CREATE INDEX search_index_s1 ON search_index (res_type, param, s1, s2);
CREATE INDEX search_index_s2 ON search_index (res_type, param, s2);
CREATE INDEX search_index_n1 ON search_index (res_type, param, n1);
CREATE INDEX search_index_owner ON search_index (client_key, res_type, res_id);

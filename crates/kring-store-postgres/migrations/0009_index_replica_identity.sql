-- The index has no primary key (a resource has many rows, and none of them is named alone), so
-- logical replication could not tell which row an UPDATE or DELETE meant. Citus moves shards
-- between workers by logical replication while they are written (adding a worker, rebalancing),
-- so the whole row identifies it. Without logical decoding (a single PostgreSQL) this changes
-- nothing that is written.
ALTER TABLE search_index REPLICA IDENTITY FULL;

//! The ids the server assigns to the resources it creates.
//!
//! Owns: their form. An id is a UUID of version 7 (RFC 9562): 48 bits of the creation time in
//! milliseconds, then 74 bits of a randomly seeded counter and random data. Time-ordered ids make
//! every table and index keyed by id (the current row, the history, the key table, the index rows
//! of a client) grow at one end: the writes of one group commit share a few B-tree pages instead of
//! each dirtying a page of its own somewhere in every index, which at a million resources is the
//! difference between a few pages and hundreds written to the WAL per commit. The price: an id
//! tells when its resource was created, to the millisecond — which its first version's
//! `meta.lastUpdated` tells anyone who may read it anyway; the id says nothing about the client.
//! Ids stay hard to guess (at least 32 random bits, the counter starting at random), which access
//! control does not rely on.

/// A fresh id for a resource the server creates.
pub(crate) fn new_resource_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::new_resource_id;

    #[test]
    fn ids_are_valid_fhir_ids_and_grow_in_time_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_resource_id()).collect();
        for id in &ids {
            assert!(kring_fhir::reference::is_valid_id(id), "{id}");
            assert_eq!(id.len(), 36);
            assert!(
                id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
                "{id}"
            );
        }
        // Ids made one after another sort in that order (the UUID's counter keeps them
        // ordered within one millisecond), and none repeats.
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }
}

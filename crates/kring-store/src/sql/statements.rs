//! The fixed statements: reading a resource by key, its current version, writing versions
//! and their index rows in multi-row INSERTs, and the index row of each value.

use super::*;
use crate::{IndexEntry, IndexValue};

/// `SELECT <the resource columns of r> FROM resources r WHERE `. Every query of resources
/// returns these columns in this order, which is how the backends decode them.
pub(crate) fn select_resources() -> Sql {
    Sql::new("SELECT r.res_type, r.id, r.version, r.last_updated, r.deleted, r.client_key, r.body FROM resources r WHERE ")
}

pub const READ_CURRENT: &str = "SELECT r.res_type, r.id, r.version, r.last_updated, r.deleted, r.client_key, r.body \
     FROM resource_keys k JOIN resources r ON r.client_key = k.client_key AND r.res_type = k.res_type AND r.id = k.id \
     WHERE k.res_type = ? AND k.id = ?";

pub const READ_VERSION: &str = "SELECT v.res_type, v.id, v.version, v.last_updated, v.deleted, v.client_key, v.body \
     FROM resource_keys k JOIN resource_versions v ON v.client_key = k.client_key AND v.res_type = k.res_type AND v.id = k.id \
     WHERE k.res_type = ? AND k.id = ? AND v.version = ?";

pub const CURRENT_VERSION: &str = "SELECT r.version, r.deleted, r.client_key FROM resource_keys k \
     JOIN resources r ON r.client_key = k.client_key AND r.res_type = k.res_type AND r.id = k.id \
     WHERE k.res_type = ? AND k.id = ?";

/// Where the keys live apart from the record (Citus: `resource_keys` distributed by id, the
/// record by client), a read by key first asks the key's client, then reads the client's rows
/// with these: each names its client, so it goes to one shard.
pub const READ_CURRENT_OF_CLIENT: &str =
    "SELECT r.res_type, r.id, r.version, r.last_updated, r.deleted, r.client_key, r.body \
     FROM resources r WHERE r.client_key = ? AND r.res_type = ? AND r.id = ?";
pub const READ_VERSION_OF_CLIENT: &str = "SELECT v.res_type, v.id, v.version, v.last_updated, v.deleted, v.client_key, v.body \
     FROM resource_versions v WHERE v.client_key = ? AND v.res_type = ? AND v.id = ? AND v.version = ?";
pub const CURRENT_VERSION_OF_CLIENT: &str =
    "SELECT r.version, r.deleted, r.client_key FROM resources r \
     WHERE r.client_key = ? AND r.res_type = ? AND r.id = ?";
/// The client of a resource (the first step of a read by key where keys live apart).
pub const CLIENT_OF: &str =
    "SELECT k.client_key, k.id FROM resource_keys k WHERE k.res_type = ? AND k.id = ?";

/// The current versions of several resources of one type: the type, then the ids (the
/// caller writes the `?` list and the closing parenthesis).
pub const CURRENT_VERSIONS_OF: &str =
    "SELECT k.id, r.version, r.deleted, r.client_key FROM resource_keys k \
     JOIN resources r ON r.client_key = k.client_key AND r.res_type = k.res_type AND r.id = k.id \
     WHERE k.res_type = ? AND k.id IN (";

pub const UPDATE_KEY: &str =
    "UPDATE resource_keys SET client_key = ? WHERE res_type = ? AND id = ?";
pub const DELETE_CURRENT: &str =
    "DELETE FROM resources WHERE client_key = ? AND res_type = ? AND id = ?";
/// A resource that moves to another client takes its history along: copied under the new
/// client key, then removed under the old one (not an UPDATE of the key, which Citus cannot
/// do to the column it distributes by).
pub const COPY_VERSIONS: &str =
    "INSERT INTO resource_versions (client_key, res_type, id, version, last_updated, deleted, body) \
     SELECT ?, res_type, id, version, last_updated, deleted, body FROM resource_versions \
     WHERE client_key = ? AND res_type = ? AND id = ?";
pub const DROP_VERSIONS: &str =
    "DELETE FROM resource_versions WHERE client_key = ? AND res_type = ? AND id = ?";
pub const DELETE_INDEX: &str =
    "DELETE FROM search_index WHERE client_key = ? AND res_type = ? AND res_id = ?";
pub const TYPES_IN_USE: &str =
    "SELECT DISTINCT res_type FROM resources WHERE deleted = 0 ORDER BY res_type";

/// The longest text kept in an indexed column, in bytes. Longer values are cut (at a character
/// boundary) so that every row fits a B-tree index entry; matching on the first 512 bytes is
/// what string and token search need.
pub const MAX_INDEXED_TEXT: usize = 512;

pub(super) fn cut(s: &str) -> String {
    if s.len() <= MAX_INDEXED_TEXT {
        return s.to_string();
    }
    let mut end = MAX_INDEXED_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// One index entry as the generic `search_index` columns: (s1, s2, s3, n1, n2).
pub fn index_row(value: &IndexValue) -> [Arg; 5] {
    let t = |s: &Option<String>| s.as_deref().map(|s| Arg::Text(cut(s))).unwrap_or(Arg::Null);
    let none = Arg::NullFloat;
    match value {
        IndexValue::String { norm, exact } => [
            Arg::Text(cut(norm)),
            Arg::Text(cut(exact)),
            Arg::Null,
            none.clone(),
            none,
        ],
        IndexValue::Token { system, code, text } => {
            [t(system), t(code), t(text), none.clone(), none]
        }
        IndexValue::Reference {
            target_type,
            target_id,
            url,
        } => [t(target_type), t(target_id), t(url), none.clone(), none],
        IndexValue::Date(r) => [
            Arg::Null,
            Arg::Null,
            Arg::Null,
            Arg::Float(r.low as f64),
            Arg::Float(r.high as f64),
        ],
        IndexValue::Number { low, high } => [
            Arg::Null,
            Arg::Null,
            Arg::Null,
            Arg::Float(*low),
            Arg::Float(*high),
        ],
        IndexValue::Quantity {
            system,
            code,
            low,
            high,
        } => [
            t(system),
            t(code),
            Arg::Null,
            Arg::Float(*low),
            Arg::Float(*high),
        ],
        IndexValue::Uri(u) => [Arg::Text(cut(u)), Arg::Null, Arg::Null, none.clone(), none],
    }
}

/// The heads of the multi-row inserts a batch of new versions is written with.
pub const INSERT_KEYS_HEAD: &str =
    "INSERT /*or-fail*/ INTO resource_keys (res_type, id, client_key) VALUES ";
pub const INSERT_CURRENT_HEAD: &str =
    "INSERT /*or-fail*/ INTO resources (res_type, id, version, last_updated, deleted, client_key, body) VALUES ";
pub const INSERT_VERSIONS_HEAD: &str =
    "INSERT /*or-fail*/ INTO resource_versions (res_type, id, version, last_updated, deleted, client_key, body) VALUES ";
pub const INSERT_INDEX_HEAD: &str =
    "INSERT /*or-fail*/ INTO search_index (client_key, res_type, res_id, param, s1, s2, s3, n1, n2) VALUES ";

/// Multi-row INSERTs: `head` (`INSERT INTO t (…) VALUES `) with `per_statement` rows each.
pub fn insert_many(head: &str, rows: Vec<Vec<Arg>>, per_statement: usize) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = Sql::new(head);
        for (i, row) in rows.by_ref().take(per_statement).enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, a) in row.into_iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.arg(a);
            }
            sql.push(")");
        }
        out.push(sql);
    }
    out
}

/// The `search_index` rows of one resource, as arguments for [`INSERT_INDEX_HEAD`].
pub fn index_rows(
    client_key: &str,
    rtype: &str,
    id: &str,
    entries: &[IndexEntry],
) -> Vec<Vec<Arg>> {
    entries
        .iter()
        .map(|e| {
            let mut row = vec![
                Arg::Text(client_key.to_string()),
                Arg::Text(rtype.to_string()),
                Arg::Text(id.to_string()),
                Arg::Text(e.param.clone()),
            ];
            row.extend(index_row(&e.value));
            row
        })
        .collect()
}

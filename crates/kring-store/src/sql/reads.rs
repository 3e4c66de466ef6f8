//! The other reads: history, several resources by key, the references for `_include` and
//! `_revinclude`, and the scans of export and `$everything`.

use super::*;

/// History query.
pub fn history(q: &crate::HistoryQuery) -> Sql {
    let mut sql = Sql::new("SELECT v.res_type, v.id, v.version, v.last_updated, v.deleted, v.client_key, v.body FROM resource_versions v WHERE 1 = 1");
    match &q.scope {
        crate::HistoryScope::System => {}
        crate::HistoryScope::Type(t) => {
            sql.push(" AND v.res_type = ").text_arg(t);
        }
        crate::HistoryScope::Instance(t, id) => {
            sql.push(" AND v.res_type = ")
                .text_arg(t)
                .push(" AND v.id = ")
                .text_arg(id);
        }
    }
    if let Some(s) = q.since {
        sql.push(" AND v.last_updated >= ").arg(Arg::Int(s));
    }
    if let Some(scope) = &q.scope_filter {
        sql.push(" AND ");
        let rtype = match &q.scope {
            crate::HistoryScope::Type(t) | crate::HistoryScope::Instance(t, _) => t.as_str(),
            crate::HistoryScope::System => "",
        };
        scope_sql(&mut sql, scope, At::new("v", rtype));
    }
    sql.push(" ORDER BY v.last_updated DESC, v.res_type, v.id, v.version DESC LIMIT ")
        .arg(Arg::Int(q.count as i64))
        .push(" OFFSET ")
        .arg(Arg::Int(q.offset as i64));
    sql
}

/// Current versions of several resources.
pub fn read_many(keys: &[crate::ResourceKey]) -> Sql {
    let mut sql = Sql::new(
        "SELECT r.res_type, r.id, r.version, r.last_updated, r.deleted, r.client_key, r.body FROM resource_keys k \
         JOIN resources r ON r.client_key = k.client_key AND r.res_type = k.res_type AND r.id = k.id WHERE r.deleted = 0 AND ",
    );
    any_key(&mut sql, "k.res_type", "k.id", keys);
    sql
}

/// The clients of several resources (first column), where keys live apart from the record.
pub fn clients_of(keys: &[crate::ResourceKey]) -> Sql {
    let mut sql = Sql::new("SELECT DISTINCT k.client_key, '' FROM resource_keys k WHERE ");
    any_key(&mut sql, "k.res_type", "k.id", keys);
    sql
}

/// Current versions of several resources of the given clients (see [`clients_of`]).
pub fn read_many_of_clients(keys: &[crate::ResourceKey], clients: &[String]) -> Sql {
    let mut sql = select_resources();
    sql.push("r.deleted = 0 AND ");
    is_in(&mut sql, "r.client_key", clients);
    sql.push(" AND ");
    any_key(&mut sql, "r.res_type", "r.id", keys);
    sql
}

/// The current versions (id, version, deleted, client) of resources of one type among the
/// given clients' (see [`clients_of`]).
pub fn current_versions_of_clients(rtype: &str, ids: &[&str], clients: &[String]) -> Sql {
    let mut sql = Sql::new(
        "SELECT r.id, r.version, r.deleted, r.client_key FROM resources r WHERE r.res_type = ",
    );
    sql.text_arg(rtype).push(" AND ");
    is_in(&mut sql, "r.client_key", clients);
    sql.push(" AND ");
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    is_in(&mut sql, "r.id", &ids);
    sql
}

/// Reference targets held by resources (for `_include`).
pub fn references_from(from: &[crate::ResourceKey], params: &[String]) -> Sql {
    let mut sql = Sql::new("SELECT DISTINCT i.s1, i.s2 FROM search_index i WHERE i.s1 IS NOT NULL AND i.s2 IS NOT NULL AND ");
    any_key(&mut sql, "i.res_type", "i.res_id", from);
    sql.push(" AND ");
    is_in(&mut sql, "i.param", params);
    sql
}

/// Resources referring to targets (for `_revinclude`).
pub fn referrers_to(rtype: &str, param: &str, to: &[crate::ResourceKey]) -> Sql {
    let mut sql =
        Sql::new("SELECT DISTINCT i.res_type, i.res_id FROM search_index i WHERE i.res_type = ");
    sql.text_arg(rtype)
        .push(" AND i.param = ")
        .text_arg(param)
        .push(" AND ");
    any_key(&mut sql, "i.s1", "i.s2", to);
    sql
}

/// Current resources of one type after an id, for export.
pub fn scan(rtype: &str, after_id: Option<&str>, limit: usize) -> Sql {
    let mut sql = select_resources();
    sql.push("r.res_type = ")
        .text_arg(rtype)
        .push(" AND r.deleted = 0");
    if let Some(a) = after_id {
        sql.push(" AND r.id > ").text_arg(a);
    }
    sql.push(" ORDER BY r.id LIMIT ")
        .arg(Arg::Int(limit as i64));
    sql
}

/// Current resources of one client, for `$everything`.
pub fn client_resources(client_key: &str, offset: usize, limit: usize) -> Sql {
    let mut sql = select_resources();
    sql.push("r.client_key = ")
        .text_arg(client_key)
        .push(" AND r.deleted = 0 ORDER BY r.res_type, r.id LIMIT ")
        .arg(Arg::Int(limit as i64))
        .push(" OFFSET ")
        .arg(Arg::Int(offset as i64));
    sql
}

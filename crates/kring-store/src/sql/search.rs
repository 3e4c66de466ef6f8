//! The search compiler: a search plan into the page query and the count query, with the
//! caller's scope inside the WHERE clause (before paging and counting), each condition on its
//! index rows, chains and `_has` on the scope of the type they reach, and sorting.

use kring_fhir::datetime::now_ms;

use super::*;
use crate::search::{
    AnyOf, ClientScope, Cond, Filter, IndexTable, Prefix, SearchPlan, SortKey, StringMatch,
    TokenMatch,
};

/// The page query of a search.
pub fn search_page(plan: &SearchPlan) -> Sql {
    if let Some(sql) = search_page_by_value(plan) {
        return sql;
    }
    let mut sql = select_resources();
    where_clause(&mut sql, plan, "r", first_ids(plan));
    sql.push(" ORDER BY ");
    for key in &plan.sort {
        sort_expr(&mut sql, key, "r");
        sql.push(", ");
    }
    sql.push("r.id LIMIT ")
        .arg(Arg::Int(plan.count as i64 + 1))
        .push(" OFFSET ")
        .arg(Arg::Int(plan.offset as i64));
    sql
}

/// The page query of an unrestricted search for one value (`code=system|code`,
/// `subject=Patient/1`), unsorted: read from the value's index rows, which are ordered by
/// resource id, so the first page is found without collecting every match first (a code a
/// quarter of a million observations share: 0.05 ms instead of 30 ms). One resource may have
/// the value twice (two codings); it is answered once. Searches with more conditions or a
/// restricted caller keep the general shape, where the database chooses which condition to
/// start from: there the scope or another condition is often the narrower one.
///
/// The resources are joined with a LEFT JOIN, which keeps the database reading the value's
/// index rows in order and stopping after the page. Every index row has its current, live
/// resource (both are written and removed in one transaction, `ops::version_statements`), so
/// the outer join finds the same rows as an inner one; but the planner estimates it as at
/// least one row per index row. An inner join on Citus, where it also names the client
/// (`/*same-client*/`), multiplies the selectivity of the client and of the id, expects one or
/// two rows in all, and so collects and sorts every match of a common code in each shard:
/// 230 ms instead of 5 for `code=8867-4` over 300,000 resources.
fn search_page_by_value(plan: &SearchPlan) -> Option<Sql> {
    let (param, equal) = index_equality(only_condition(plan)?)?;
    let mut sql = Sql::new(
        "SELECT /*distinct-resource*/ r.res_type, r.id, r.version, r.last_updated, r.deleted, r.client_key, r.body \
         FROM search_index d LEFT JOIN resources r ON /*same-client*/ r.res_type = d.res_type AND r.id = d.res_id \
         AND r.deleted = 0 WHERE d.res_type = ",
    );
    sql.text_arg(&plan.rtype)
        .push(" AND d.param = ")
        .text_arg(param);
    for (col, value) in equal {
        sql.push(" AND d.").push(col);
        match value {
            Some(v) => sql.push(" = ").text_arg(v),
            None => sql.push(" IS NULL"),
        };
    }
    sql.push(" /*group-resource*/ ORDER BY d.res_id LIMIT ")
        .arg(Arg::Int(plan.count as i64 + 1))
        .push(" OFFSET ")
        .arg(Arg::Int(plan.offset as i64));
    Some(sql)
}

/// How many ids the index rows of a search's only condition need to list, when the search has
/// no scope, no sort and no other condition: those of the page and of the pages before it
/// (`offset + count + 1`), in id order. Every index row belongs to a live resource (both are
/// written and removed in one transaction), so those ids are exactly the page's, and the
/// database joins only them to their resources. Without it a common prefix (`name=jansen`,
/// 44,000 matches at ten million resources) had every match joined and sorted before the
/// page was cut: 555 ms instead of a few.
fn first_ids(plan: &SearchPlan) -> Option<i64> {
    only_condition(plan)?;
    Some(plan.offset as i64 + plan.count as i64 + 1)
}

/// The search's one condition, when it has no other, no sort, no caller scope, and the
/// condition is not negated: such a search may take its page from the condition's index rows.
fn only_condition(plan: &SearchPlan) -> Option<&Cond> {
    let [group] = plan.filter.all.as_slice() else {
        return None;
    };
    let [cond] = group.conds.as_slice() else {
        return None;
    };
    if !plan.sort.is_empty() || plan.scope.is_some() || group.negate {
        return None;
    }
    Some(cond)
}

/// An index column and the value it must equal (`None`: the column is empty).
type ColumnIs<'a> = (&'static str, Option<&'a str>);

/// A condition that names its index rows by equality on a prefix of `search_index_s1`
/// (`s1`, `s2`) or `search_index_s2` (`s2`), the indexes that carry the resource id next: the
/// parameter and each column with its value.
fn index_equality(cond: &Cond) -> Option<(&str, Vec<ColumnIs<'_>>)> {
    Some(match cond {
        Cond::Token { param, what } => match what {
            TokenMatch::Code(c) => (param, vec![("s2", Some(c.as_str()))]),
            TokenMatch::SystemCode(s, c) => {
                (param, vec![("s1", s.as_deref()), ("s2", Some(c.as_str()))])
            }
            TokenMatch::System(_) | TokenMatch::Text(_) => return None,
        },
        Cond::String {
            param,
            value,
            how: StringMatch::Exact,
        } if value.len() <= MAX_INDEXED_TEXT => (param, vec![("s2", Some(value.as_str()))]),
        Cond::Reference {
            param,
            target_type,
            target_id: Some(id),
            url: None,
        } => match target_type {
            Some(t) => (
                param,
                vec![("s1", Some(t.as_str())), ("s2", Some(id.as_str()))],
            ),
            None => (param, vec![("s2", Some(id.as_str()))]),
        },
        _ => return None,
    })
}

/// The count query of a search.
pub fn search_count(plan: &SearchPlan) -> Sql {
    let mut sql = Sql::new("SELECT COUNT(*) FROM resources r WHERE ");
    where_clause(&mut sql, plan, "r", None);
    sql
}

/// The search's conditions on the resources `alias`; `first_ids` as [`first_ids`] says.
fn where_clause(sql: &mut Sql, plan: &SearchPlan, alias: &str, first_ids: Option<i64>) {
    sql.push(alias)
        .push(".res_type = ")
        .text_arg(&plan.rtype)
        .push(" AND ")
        .push(alias)
        .push(".deleted = 0");
    // A short list of clients is where the database starts; a long one is checked row by row.
    let short_scope = plan
        .scope
        .as_ref()
        .is_some_and(|scope| scope.every_client().count() <= LONG_LIST);
    if let Some(scope) = &plan.scope {
        sql.push(" AND ");
        let long = !short_scope;
        let named = if long {
            named_clients(&plan.filter, scope)
        } else {
            vec![]
        };
        if !named.is_empty() {
            // The clients this search is about, already known to be in the scope, are checked
            // first: a search about one client then never expands the caller's long list.
            sql.push("(");
            is_in(sql, &format!("{alias}.client_key"), &named);
            sql.push(" OR ");
        }
        scope_sql_as(
            sql,
            scope,
            At::new(alias, &plan.rtype),
            !long || plan.filter.all.is_empty(),
        );
        if !named.is_empty() {
            sql.push(")");
        }
    }
    // Which conditions find the rows, and which are checked on each row found: a group that
    // names resources by id (`subject=Patient/a,Patient/b`, `_id=`) finds few rows, so every
    // other group is checked on those rows' own index rows. Listing every match of the region
    // first would read, say, all crisis plans of the region, to keep those of eleven clients.
    // Beside the caller's short list of clients a range is found among those clients' own
    // index rows instead ([`index_subquery_on`]), whether or not ids are named.
    let by_id = plan.filter.all.iter().any(names_by_id);
    let scope_clients = match &plan.scope {
        Some(scope) if short_scope => clients_of(scope),
        _ => vec![],
    };
    // A range among those clients' rows comes first: SQLite starts from the first list of ids
    // it is given, and "sent since my last visit" is a few rows where the client's messages are
    // thousands (1 ms instead of 8 for a client with 2,000). PostgreSQL orders on its own.
    let mut groups: Vec<&AnyOf> = plan.filter.all.iter().collect();
    if !scope_clients.is_empty() {
        groups.sort_by_key(|g| !is_range(g));
    }
    for group in groups {
        let per_row = if by_id && !names_by_id(group) {
            PerRow::All
        } else if by_id {
            PerRow::Ranges
        } else {
            PerRow::None
        };
        let at = At {
            per_row,
            first_ids,
            clients: (!scope_clients.is_empty()).then_some(scope_clients.as_slice()),
            ..At::new(alias, &plan.rtype)
        };
        sql.push(" AND ");
        any_of_sql(sql, group, at, plan.scope.as_ref());
    }
}

/// Whether `group` is a range of dates, numbers or quantities (and nothing else).
fn is_range(group: &AnyOf) -> bool {
    !group.negate
        && !group.conds.is_empty()
        && group.conds.iter().all(|c| {
            matches!(
                c,
                Cond::Date { .. } | Cond::Number { .. } | Cond::Quantity { .. }
            )
        })
}

/// Every client key a short scope lets rows have: its clients, whole or in part, and the shared
/// key when it shows shared resources; each once.
fn clients_of(scope: &ClientScope) -> Vec<String> {
    let mut keys: Vec<String> = scope.every_client().cloned().collect();
    if scope.include_shared {
        keys.push(crate::SHARED_KEY.to_string());
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Whether every match of `group` is a resource it names by id, or one referring to a resource
/// it names by id: few rows, found by the index of those ids.
fn names_by_id(group: &AnyOf) -> bool {
    !group.negate
        && !group.conds.is_empty()
        && group.conds.iter().all(|c| {
            matches!(
                c,
                Cond::Id(_)
                    | Cond::Reference {
                        target_id: Some(_),
                        ..
                    }
            )
        })
}

/// The client keys a search names in conditions that every match must meet (a reference's
/// target, a Patient's id) and that the scope shows whole. Checking them before the scope's
/// list changes nothing about which rows match: each is in that list.
fn named_clients(filter: &Filter, scope: &ClientScope) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    for group in filter.all.iter().filter(|g| !g.negate) {
        for cond in &group.conds {
            let id = match cond {
                Cond::Reference {
                    target_id: Some(id),
                    ..
                } => id,
                Cond::Id(id) => id,
                _ => continue,
            };
            if named.len() < LONG_LIST
                && !named.contains(id)
                && scope.clients.iter().any(|c| c == id)
            {
                named.push(id.clone());
            }
        }
    }
    named
}

/// The caller's scope on the rows at `at`: whole clients, shared data, and clients seen only
/// partly (rows matching the scope's condition).
pub(super) fn scope_sql(sql: &mut Sql, scope: &ClientScope, at: At) {
    scope_sql_as(sql, scope, at, true)
}

/// `drives`: whether the database may use the client key to find rows. A long client list with
/// a selective search condition beside it is better checked row by row (`client_key || ''`
/// hides the column from the planner in both SQLite and PostgreSQL), so the condition's own
/// index finds the rows instead of a lookup per client.
fn scope_sql_as(sql: &mut Sql, scope: &ClientScope, at: At, drives: bool) {
    let alias = at.alias;
    let col = if drives {
        format!("{alias}.client_key")
    } else {
        format!("({alias}.client_key || '')")
    };
    sql.push("(");
    is_in(sql, &col, &scope.clients);
    if scope.include_shared {
        sql.push(" OR ").push(alias).push(".client_key = ''");
    }
    for (clients, only) in &scope.partial {
        sql.push(" OR (");
        is_in(sql, &col, clients);
        sql.push(" AND ");
        let at = At {
            per_row: PerRow::All,
            ..at
        };
        any_of_sql(sql, only, at, None);
        sql.push(")");
    }
    sql.push(")");
}

/// The scope of rows of another type reached by a chain or `_has`: its own scope, or nothing.
fn linked_scope_sql(sql: &mut Sql, scope: &ClientScope, at: At) {
    match scope.linked.get(at.rtype) {
        Some(linked) => scope_sql(sql, linked, at),
        None => {
            sql.push("1 = 0");
        }
    }
}

fn filter_sql(sql: &mut Sql, filter: &Filter, at: At, scope: Option<&ClientScope>) {
    for group in &filter.all {
        sql.push(" AND ");
        any_of_sql(sql, group, at, scope);
    }
}

fn any_of_sql(sql: &mut Sql, group: &AnyOf, at: At, scope: Option<&ClientScope>) {
    if group.negate {
        sql.push("NOT ");
    }
    // `subject=Patient/a,Patient/b,…`: one index range per value inside one subquery, instead
    // of one subquery per value joined by OR (which the planner answers by scanning every
    // resource of the type).
    if let Some((param, target_type, ids)) = same_reference_targets(group) {
        sql.push("(");
        index_subquery(sql, &at, param, |sql| {
            sql.push("i.s1 = ").text_arg(target_type).push(" AND ");
            is_in(sql, "i.s2", &ids);
        });
        sql.push(")");
        return;
    }
    sql.push("(");
    if group.conds.is_empty() {
        sql.push("1 = 0");
    }
    for (i, c) in group.conds.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        cond_sql(sql, c, at, scope);
    }
    sql.push(")");
}

/// When every condition of `group` is a reference of one parameter to one type by id (and
/// there are several): the parameter, the type and the ids.
fn same_reference_targets(group: &AnyOf) -> Option<(&str, &str, Vec<String>)> {
    if group.conds.len() < 2 {
        return None;
    }
    let mut out: Option<(&str, &str, Vec<String>)> = None;
    for c in &group.conds {
        let Cond::Reference {
            param,
            target_type: Some(t),
            target_id: Some(id),
            url: None,
        } = c
        else {
            return None;
        };
        match &mut out {
            None => out = Some((param.as_str(), t.as_str(), vec![id.clone()])),
            Some((p, ty, ids)) if *p == param.as_str() && *ty == t.as_str() => ids.push(id.clone()),
            Some(_) => return None,
        }
    }
    out
}

/// Which resource rows a condition applies to: their alias in the query and their type.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) alias: &'a str,
    pub(super) rtype: &'a str,
    /// Which conditions are checked on each row's own index rows (`search_index_owner`)
    /// instead of by listing every resource of the region that meets them first.
    pub(super) per_row: PerRow,
    /// The condition is the search's only one and its index rows list only this many ids,
    /// the first in id order ([`first_ids`]).
    pub(super) first_ids: Option<i64>,
    /// Every client key the caller's short scope lets the rows have: a range of dates,
    /// numbers or quantities is found among these clients' own index rows
    /// ([`index_subquery_on`]).
    pub(super) clients: Option<&'a [String]>,
}

/// Which conditions on index rows are checked row by row.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PerRow {
    /// None: the database may start from any condition's index rows.
    None,
    /// Ranges of dates, numbers and quantities: the rows are found by a narrower condition
    /// (references to named resources).
    Ranges,
    /// Every condition: the rows are those of a few named clients (a client seen only in part,
    /// whose visible part is a category: the region's crisis plans are not listed to find it).
    All,
}

impl<'a> At<'a> {
    pub(super) fn new(alias: &'a str, rtype: &'a str) -> Self {
        At {
            alias,
            rtype,
            per_row: PerRow::None,
            first_ids: None,
            clients: None,
        }
    }
}

/// `alias.id IN (SELECT i.res_id FROM search_index i WHERE i.res_type = ? AND i.param = ? AND …)`
fn index_subquery(sql: &mut Sql, at: &At, param: &str, body: impl FnOnce(&mut Sql)) {
    index_subquery_on(sql, at, param, "", body)
}

/// The rows of date, number and quantity values, the only ones in the partial index
/// `search_index_n1`: a query names its condition so that the database may use that index.
const HAS_NUMBER: &str = "i.n1 IS NOT NULL AND ";

/// [`index_subquery`] on the rows `rows` (a condition ending in ` AND `, or nothing) selects.
///
/// A range of dates, numbers or quantities beside a caller's short list of clients
/// (`at.clients`) is found among those clients' own index rows, by `search_index_client_dates`
/// (client, type, parameter, end of interval): `… WHERE i.client_key IN (…) AND i.res_type = ?
/// …`. The same rows match as without the list — a resource's index rows carry its own client
/// key, and the scope already keeps the resource among these clients — but neither the
/// region's rows in range are listed (every message of the region since a date) nor each of
/// the clients' resources checked for its date (a client's 2,000 messages to learn that none
/// came after the last visit).
fn index_subquery_on(sql: &mut Sql, at: &At, param: &str, rows: &str, body: impl FnOnce(&mut Sql)) {
    let among_clients = at.clients.filter(|_| rows == HAS_NUMBER);
    let per_row = among_clients.is_none()
        && match at.per_row {
            PerRow::None => false,
            PerRow::Ranges => rows == HAS_NUMBER,
            PerRow::All => true,
        };
    if per_row {
        // The row's own index rows, one row at a time. A range is found among them by the
        // owner's index (the partial index of numbers would list the type's every date); an
        // equality the database finds by the index of its values, which ends in the id.
        let a = at.alias;
        sql.push("EXISTS (SELECT 1 FROM search_index i ");
        if rows == HAS_NUMBER {
            sql.push(OWN_INDEX_ROWS);
        }
        sql.push(" WHERE i.client_key = ")
            .push(a)
            .push(".client_key AND i.res_type = ")
            .push(a)
            .push(".res_type AND i.res_id = ")
            .push(a)
            .push(".id AND i.param = ")
            .text_arg(param)
            .push(" AND ");
        body(sql);
        sql.push(")");
        return;
    }
    sql.push("(")
        .push(CLIENT_MARK)
        .push(at.alias)
        .push("*/ ")
        .push(at.alias)
        .push(".id) IN (SELECT ");
    if at.first_ids.is_some() {
        sql.push("DISTINCT ");
    }
    sql.push(CLIENT_MARK)
        .push("i*/ i.res_id FROM search_index i ");
    if let Some(clients) = among_clients {
        sql.push(CLIENT_DATES).push(" WHERE ");
        is_in(sql, "i.client_key", clients);
        sql.push(" AND ");
    } else {
        sql.push("WHERE ");
    }
    sql.push("i.res_type = ")
        .text_arg(at.rtype)
        .push(" AND i.param = ");
    sql.text_arg(param).push(" AND ").push(rows);
    body(sql);
    if let Some(n) = at.first_ids {
        sql.push(" ORDER BY i.res_id LIMIT ").arg(Arg::Int(n));
    }
    sql.push(")");
}

/// `s >= prefix AND s < prefix+max` : a starts-with that can use a btree index.
fn starts_with(sql: &mut Sql, col: &str, prefix: &str) {
    sql.push("(")
        .push(col)
        .push(" >= ")
        .text_arg(prefix)
        .push(" AND ")
        .push(col)
        .push(" < ")
        .text_arg(&format!("{prefix}\u{10FFFF}"))
        .push(")");
}

/// `col IN (?, …)`; with no values, a condition nothing meets.
pub(super) fn is_in(sql: &mut Sql, col: &str, values: &[String]) {
    if values.is_empty() {
        sql.push("1 = 0");
        return;
    }
    if values.len() > LONG_LIST {
        // One JSON array parameter instead of hundreds: the statement stays small and cached.
        let list = serde_json::to_string(values).unwrap_or_else(|_| "[]".into());
        sql.push(col).push(" IN (").push(JSON_LIST).text_arg(&list);
        sql.push(JSON_LIST_END).push(")");
        return;
    }
    sql.push(col).push(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.text_arg(v);
    }
    sql.push(")");
}

/// `((type_col = ? AND id_col = ?) OR …)` for each key; with no keys, nothing matches.
pub(super) fn any_key(sql: &mut Sql, type_col: &str, id_col: &str, keys: &[crate::ResourceKey]) {
    sql.push("(");
    if keys.is_empty() {
        sql.push("1 = 0");
    }
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(").push(type_col).push(" = ").text_arg(&k.rtype);
        sql.push(" AND ")
            .push(id_col)
            .push(" = ")
            .text_arg(&k.id)
            .push(")");
    }
    sql.push(")");
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Range comparison of a stored interval [lo, hi] with the searched interval [low, high].
fn range_cmp(
    sql: &mut Sql,
    lo: &str,
    hi: &str,
    prefix: Prefix,
    low: f64,
    high: f64,
    approx_span: f64,
) {
    let f = Arg::Float;
    match prefix {
        // `lo <= high` follows from the others; it bounds the index range scan on `lo`.
        Prefix::Eq => sql
            .push("(")
            .push(lo)
            .push(" >= ")
            .arg(f(low))
            .push(" AND ")
            .push(lo)
            .push(" <= ")
            .arg(f(high))
            .push(" AND ")
            .push(hi)
            .push(" <= ")
            .arg(f(high))
            .push(")"),
        Prefix::Ne => sql
            .push("NOT (")
            .push(lo)
            .push(" >= ")
            .arg(f(low))
            .push(" AND ")
            .push(hi)
            .push(" <= ")
            .arg(f(high))
            .push(")"),
        Prefix::Gt => sql.push(hi).push(" > ").arg(f(high)),
        Prefix::Lt => sql.push(lo).push(" < ").arg(f(low)),
        Prefix::Ge => sql.push(hi).push(" >= ").arg(f(low)),
        Prefix::Le => sql.push(lo).push(" <= ").arg(f(high)),
        Prefix::Sa => sql.push(lo).push(" > ").arg(f(high)),
        Prefix::Eb => sql.push(hi).push(" < ").arg(f(low)),
        Prefix::Ap => sql
            .push("(")
            .push(lo)
            .push(" <= ")
            .arg(f(high + approx_span))
            .push(" AND ")
            .push(hi)
            .push(" >= ")
            .arg(f(low - approx_span))
            .push(")"),
    };
}

/// `ap` on dates: 10% of the distance from now, at least a day.
fn date_approx_span(low: i64, high: i64) -> f64 {
    let mid = (low / 2 + high / 2) as f64;
    (((now_ms() as f64) - mid).abs() * 0.1).max(86_400_000.0)
}

fn cond_sql(sql: &mut Sql, cond: &Cond, at: At, scope: Option<&ClientScope>) {
    let alias = at.alias;
    match cond {
        Cond::Id(id) => {
            sql.push(alias).push(".id = ").text_arg(id);
        }
        Cond::LastUpdated { prefix, low, high } => {
            let col = format!("{alias}.last_updated");
            range_cmp(
                sql,
                &col,
                &col,
                *prefix,
                *low as f64,
                *high as f64,
                date_approx_span(*low, *high),
            );
        }
        Cond::String { param, value, how } => index_subquery(sql, &at, param, |sql| match how {
            StringMatch::StartsWith => {
                starts_with(sql, "i.s1", &kring_fhir::text::normalize(value))
            }
            StringMatch::Exact => {
                sql.push("i.s2 = ").text_arg(&cut(value));
            }
            StringMatch::Contains => {
                sql.push("i.s1 LIKE ")
                    .text_arg(&format!(
                        "%{}%",
                        like_escape(&kring_fhir::text::normalize(value))
                    ))
                    .push(" ESCAPE '\\'");
            }
        }),
        Cond::Token { param, what } => index_subquery(sql, &at, param, |sql| match what {
            TokenMatch::Code(c) => {
                sql.push("i.s2 = ").text_arg(c);
            }
            TokenMatch::SystemCode(Some(s), c) => {
                sql.push("i.s1 = ")
                    .text_arg(s)
                    .push(" AND i.s2 = ")
                    .text_arg(c);
            }
            TokenMatch::SystemCode(None, c) => {
                sql.push("i.s1 IS NULL AND i.s2 = ").text_arg(c);
            }
            TokenMatch::System(s) => {
                sql.push("i.s1 = ").text_arg(s);
            }
            TokenMatch::Text(t) => {
                let t = like_escape(&kring_fhir::text::normalize(t));
                sql.push("(i.s3 LIKE ")
                    .text_arg(&format!("{t}%"))
                    .push(" ESCAPE '\\' OR i.s3 LIKE ")
                    .text_arg(&format!("% {t}%"))
                    .push(" ESCAPE '\\')");
            }
        }),
        Cond::Reference {
            param,
            target_type,
            target_id,
            url,
        } => index_subquery(sql, &at, param, |sql| {
            let mut first = true;
            let mut and = |sql: &mut Sql| {
                if !std::mem::take(&mut first) {
                    sql.push(" AND ");
                }
            };
            if let Some(t) = target_type {
                and(sql);
                sql.push("i.s1 = ").text_arg(t);
            }
            if let Some(id) = target_id {
                and(sql);
                sql.push("i.s2 = ").text_arg(id);
            }
            if let Some(u) = url {
                and(sql);
                sql.push("i.s3 = ").text_arg(u);
            }
            if first {
                sql.push("1 = 1");
            }
        }),
        Cond::Date {
            param,
            prefix,
            low,
            high,
        } => index_subquery_on(sql, &at, param, HAS_NUMBER, |sql| {
            range_cmp(
                sql,
                "i.n1",
                "i.n2",
                *prefix,
                *low as f64,
                *high as f64,
                date_approx_span(*low, *high),
            );
        }),
        Cond::Number {
            param,
            prefix,
            low,
            high,
        } => index_subquery_on(sql, &at, param, HAS_NUMBER, |sql| {
            number_cmp(sql, *prefix, *low, *high);
        }),
        Cond::Quantity {
            param,
            prefix,
            low,
            high,
            system,
            code,
        } => index_subquery_on(sql, &at, param, HAS_NUMBER, |sql| {
            number_cmp(sql, *prefix, *low, *high);
            if let Some(s) = system {
                sql.push(" AND i.s1 = ").text_arg(s);
            }
            if let Some(c) = code {
                sql.push(" AND i.s2 = ").text_arg(c);
            }
        }),
        Cond::Uri {
            param,
            value,
            below,
        } => index_subquery(sql, &at, param, |sql| {
            if *below {
                starts_with(sql, "i.s1", value);
            } else {
                sql.push("i.s1 = ").text_arg(value);
            }
        }),
        Cond::Missing { param, missing, .. } => {
            sql.push(alias)
                .push(if *missing { ".id NOT IN" } else { ".id IN" });
            sql.push(" (SELECT i.res_id FROM search_index i WHERE i.res_type = ")
                .text_arg(at.rtype)
                .push(" AND i.param = ")
                .text_arg(param)
                .push(")");
        }
        Cond::Chain {
            param,
            target_type,
            inner,
        } => {
            // The targets first, then the references to them: a target may belong to another
            // client than the resource that refers to it, so the two are not joined row by row
            // (Citus keeps them in different shards; an IN of the targets' ids it can send).
            let t = format!("{alias}c");
            sql.push(alias)
                .push(".id IN (SELECT i.res_id FROM search_index i WHERE i.res_type = ")
                .text_arg(at.rtype);
            sql.push(" AND i.param = ")
                .text_arg(param)
                .push(" AND i.s1 = ")
                .text_arg(target_type);
            sql.push(" AND i.s2 IN (SELECT ")
                .push(&t)
                .push(".id FROM resources ")
                .push(&t)
                .push(" WHERE ")
                .push(&t)
                .push(".res_type = ")
                .text_arg(target_type);
            sql.push(" AND ").push(&t).push(".deleted = 0");
            if let Some(scope) = scope {
                sql.push(" AND ");
                linked_scope_sql(sql, scope, At::new(&t, target_type));
            }
            filter_sql(sql, inner, At::new(&t, target_type), scope);
            sql.push("))");
        }
        Cond::Has {
            rtype,
            param,
            inner,
        } => {
            let h = format!("{alias}h");
            sql.push(alias)
                .push(".id IN (SELECT i.s2 FROM search_index i JOIN resources ")
                .push(&h);
            sql.push(" ON ")
                .push(&h)
                .push(".client_key = i.client_key AND ")
                .push(&h)
                .push(".res_type = i.res_type AND ")
                .push(&h)
                .push(".id = i.res_id WHERE i.res_type = ")
                .text_arg(rtype);
            sql.push(" AND i.param = ")
                .text_arg(param)
                .push(" AND i.s1 = ")
                .text_arg(at.rtype)
                .push(" AND ")
                .push(&h)
                .push(".deleted = 0");
            if let Some(scope) = scope {
                sql.push(" AND ");
                linked_scope_sql(sql, scope, At::new(&h, rtype));
            }
            filter_sql(sql, inner, At::new(&h, rtype), scope);
            sql.push(")");
        }
    }
}

/// Number comparison: the stored value (the middle of its precision interval) against the
/// searched value's precision interval [low, high].
fn number_cmp(sql: &mut Sql, prefix: Prefix, low: f64, high: f64) {
    let mid = "((i.n1 + i.n2) / 2)";
    let value = (low + high) / 2.0;
    let f = Arg::Float;
    match prefix {
        Prefix::Eq => sql
            .push("(")
            .push(mid)
            .push(" >= ")
            .arg(f(low))
            .push(" AND ")
            .push(mid)
            .push(" < ")
            .arg(f(high))
            .push(")"),
        Prefix::Ne => sql
            .push("NOT (")
            .push(mid)
            .push(" >= ")
            .arg(f(low))
            .push(" AND ")
            .push(mid)
            .push(" < ")
            .arg(f(high))
            .push(")"),
        Prefix::Gt | Prefix::Sa => sql.push(mid).push(" > ").arg(f(value)),
        Prefix::Lt | Prefix::Eb => sql.push(mid).push(" < ").arg(f(value)),
        Prefix::Ge => sql.push(mid).push(" >= ").arg(f(value)),
        Prefix::Le => sql.push(mid).push(" <= ").arg(f(value)),
        Prefix::Ap => {
            let span = (value.abs() * 0.1).max(high - low);
            sql.push("(")
                .push(mid)
                .push(" >= ")
                .arg(f(value - span))
                .push(" AND ")
                .push(mid)
                .push(" <= ")
                .arg(f(value + span))
                .push(")")
        }
    };
}

fn sort_expr(sql: &mut Sql, key: &SortKey, alias: &str) {
    match key {
        SortKey::Id { desc } => {
            sql.push(alias)
                .push(if *desc { ".id DESC" } else { ".id ASC" });
        }
        SortKey::LastUpdated { desc } => {
            sql.push(alias).push(if *desc {
                ".last_updated DESC"
            } else {
                ".last_updated ASC"
            });
        }
        SortKey::Param {
            params,
            table,
            desc,
        } => {
            let col = match (table, desc) {
                (IndexTable::String, _) => "i.s1",
                (IndexTable::Token | IndexTable::Reference, _) => "i.s2",
                (IndexTable::Uri, _) => "i.s1",
                (_, false) => "i.n1",
                (_, true) => "i.n2",
            };
            let agg = if *desc { "MAX" } else { "MIN" };
            sql.push("(SELECT ")
                .push(agg)
                .push("(")
                .push(col)
                .push(") FROM search_index i WHERE i.client_key = ")
                .push(alias)
                .push(".client_key AND i.res_type = ")
                .push(alias);
            sql.push(".res_type AND i.res_id = ")
                .push(alias)
                .push(".id AND ");
            is_in(sql, "i.param", params);
            sql.push(")");
            sql.push(if *desc {
                " DESC NULLS LAST"
            } else {
                " ASC NULLS LAST"
            });
        }
    }
}

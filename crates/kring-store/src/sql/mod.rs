//! The SQL both backends run, written once: this module holds what every statement is made
//! of ([`Sql`], [`Arg`]) and the dialect — `?` placeholders numbered (`$1`, `$2` …) for
//! PostgreSQL, and the marks each backend writes its own way ([`Sql::text_for`]); the fixed
//! statements of writes and reads by key are in [`statements`], the search compiler (a
//! [`SearchPlan`](crate::search::SearchPlan) into a page and a count query) in [`search`], and
//! the other reads (history, includes, export scans) in [`reads`]. Index values of every
//! parameter type share one table, `search_index`, with generic columns (see [`index_row`]);
//! the search parameter decides how they are read.

mod reads;
mod search;
mod statements;

pub use reads::*;
pub use search::*;
pub use statements::*;

use crate::Backend;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    /// A NULL in a text column.
    Null,
    /// A NULL in a floating-point column (PostgreSQL types its parameters).
    NullFloat,
}

/// SQL text with its arguments.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: vec![],
        }
    }
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    pub(crate) fn arg(&mut self, a: Arg) -> &mut Self {
        self.text.push('?');
        self.args.push(a);
        self
    }
    pub(crate) fn text_arg(&mut self, s: &str) -> &mut Self {
        self.arg(Arg::Text(s.to_string()))
    }
    pub fn bind(mut self, a: Arg) -> Self {
        self.args.push(a);
        self
    }
    pub fn bind_all(mut self, args: Vec<Arg>) -> Self {
        self.args.extend(args);
        self
    }
    /// The statement text with placeholders and marks (see the constants below) as the
    /// backend expects them.
    pub fn text_for(&self, backend: Backend) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        let mut text = Cow::Borrowed(self.text.as_str());
        let mut rewrite = |from: &str, to: &str, all: bool| {
            if text.contains(from) {
                let replaced = if all {
                    text.replace(from, to)
                } else {
                    text.replacen(from, to, 1)
                };
                text = Cow::Owned(replaced);
            }
        };
        match backend {
            Backend::Sqlite => {
                if self.text.starts_with(OR_FAIL_INSERT) {
                    rewrite(OR_FAIL_INSERT, "INSERT OR FAIL", false);
                }
                rewrite(GROUP_RESOURCE, "GROUP BY d.res_id", false);
                rewrite(OWN_INDEX_ROWS, "INDEXED BY search_index_owner", true);
                rewrite(CLIENT_DATES, "INDEXED BY search_index_client_dates", true);
                rewrite(JSON_LIST, "SELECT value FROM json_each(", true);
                rewrite(JSON_LIST_END, ")", true);
                text
            }
            Backend::Postgres | Backend::Citus => {
                if backend == Backend::Citus {
                    rewrite(SAME_CLIENT, "r.client_key = d.client_key AND", false);
                }
                rewrite(DISTINCT_RESOURCE, "DISTINCT ON (d.res_id)", false);
                rewrite(JSON_LIST, "SELECT jsonb_array_elements_text(CAST(", true);
                rewrite(JSON_LIST_END, " AS jsonb))", true);
                if backend == Backend::Citus && text.contains(CLIENT_MARK) {
                    return Cow::Owned(numbered(&with_client_columns(&text), backend));
                }
                Cow::Owned(numbered(&text, backend))
            }
        }
    }
}

/// Lists longer than this are bound as one JSON array (`x IN (SELECT value FROM json_each(?))`).
pub(crate) const LONG_LIST: usize = 32;
/// Marks where a JSON-array list starts; [`Sql::text_for`] writes the backend's function, and
/// [`JSON_LIST_END`] closes it.
pub(crate) const JSON_LIST: &str = "/*json-list*/";
pub(crate) const JSON_LIST_END: &str = "/*end-json-list*/";

/// Mark where a query joining index rows `d` to resources answers each resource once: SQLite
/// groups by `d.res_id` ([`GROUP_RESOURCE`]) and returns the group's one row; PostgreSQL, which
/// wants every selected column grouped, keeps the first row of each `d.res_id`
/// ([`DISTINCT_RESOURCE`], after `SELECT`). Both leave the other mark as a comment.
pub(crate) const GROUP_RESOURCE: &str = "/*group-resource*/";
pub(crate) const DISTINCT_RESOURCE: &str = "/*distinct-resource*/";

/// Mark after `FROM search_index i` where a condition is checked on one resource's own index
/// rows (`i.client_key = r.client_key AND i.res_type = r.res_type AND i.res_id = r.id`): SQLite
/// is told to use `search_index_owner`, since for a date range it would otherwise pick the
/// partial index of numbers and walk every date of the type for each row; PostgreSQL plans it
/// on its own and reads a comment.
pub(crate) const OWN_INDEX_ROWS: &str = "/*own-index-rows*/";

/// Mark after `FROM search_index i` where a range is looked for among a few clients' rows
/// (`i.client_key IN (…)`): SQLite, which keeps no statistics, is told to use
/// `search_index_client_dates`; PostgreSQL chooses it on its own and reads a comment.
pub(crate) const CLIENT_DATES: &str = "/*client-dates*/";

/// Mark where a query joins index rows `d` to their resources `r` by type and id: on Citus it
/// also names the client (`r.client_key = d.client_key`), the column both are distributed by,
/// so that the join runs shard by shard; SQLite and PostgreSQL leave it out, as the index that
/// answers such a query (`search_index_s1`, `search_index_s2`) carries no client key and would
/// no longer cover it.
pub(crate) const SAME_CLIENT: &str = "/*same-client*/";

/// Mark before a column `alias.id` compared by `IN` with the ids of index rows
/// (`/*client-of:r*/ r.id) IN (SELECT /*client-of:i*/ i.res_id …`): on Citus each becomes
/// `alias.client_key, `, so that the pair (client, id) is compared — a join on the column the
/// record is distributed by, which Citus sends to each shard whole (one shard when the scope
/// names one client) instead of collecting the ids first. Elsewhere it stays a comment.
pub(crate) const CLIENT_MARK: &str = "/*client-of:";

/// Replaces every [`CLIENT_MARK`] mark by the client key column of its alias.
fn with_client_columns(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find(CLIENT_MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + CLIENT_MARK.len()..];
        let Some(end) = after.find("*/") else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&after[..end]);
        out.push_str(".client_key,");
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Starts an INSERT whose failure is undone with its whole transaction (a savepoint, or the
/// group's rollback), never by the statement alone: SQLite gets `INSERT OR FAIL`, which spares
/// it the statement journal (a copy of every page the statement first touches, a tenth of a
/// write's time); PostgreSQL reads a comment.
pub(crate) const OR_FAIL_INSERT: &str = "INSERT /*or-fail*/";

/// Rewrites `?` placeholders to `$n` for PostgreSQL.
pub fn numbered(text: &str, backend: Backend) -> String {
    if backend == Backend::Sqlite {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{AnyOf, ClientScope, Cond, SearchPlan};

    #[test]
    fn numbers_placeholders_for_postgres() {
        assert_eq!(
            numbered("a = ? AND b = ?", Backend::Postgres),
            "a = $1 AND b = $2"
        );
        assert_eq!(numbered("a = ?", Backend::Sqlite), "a = ?");
    }

    #[test]
    fn the_records_inserts_keep_no_statement_journal_on_sqlite() {
        let rows = vec![vec![
            Arg::Text("Patient".into()),
            Arg::Text("p1".into()),
            Arg::Text("p1".into()),
        ]];
        let insert = insert_many(INSERT_KEYS_HEAD, rows, 10).remove(0);
        assert!(insert
            .text_for(Backend::Sqlite)
            .starts_with("INSERT OR FAIL INTO resource_keys"));
        // PostgreSQL has no OR FAIL; it reads the marker as a comment.
        assert!(insert
            .text_for(Backend::Postgres)
            .starts_with("INSERT /*or-fail*/ INTO resource_keys"));
        assert!(insert.text_for(Backend::Postgres).ends_with("($1, $2, $3)"));
    }

    #[test]
    fn scope_is_inside_the_query() {
        let mut plan = SearchPlan::new("Observation");
        plan.scope = Some(ClientScope {
            clients: vec!["p1".to_string()].into(),
            ..ClientScope::default()
        });
        let sql = search_page(&plan);
        assert!(sql.text.contains("r.client_key IN (?)"), "{}", sql.text);
        assert_eq!(
            sql.args
                .iter()
                .filter(|a| **a == Arg::Text("p1".into()))
                .count(),
            1
        );
    }

    #[test]
    fn long_client_lists_are_one_json_parameter() {
        let clients: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        let plan = SearchPlan::new("Observation").scoped(ClientScope {
            clients: clients.into(),
            ..ClientScope::default()
        });
        let sql = search_page(&plan);
        let lite = sql.text_for(Backend::Sqlite);
        assert!(
            lite.contains("r.client_key IN (SELECT value FROM json_each(?))"),
            "{lite}"
        );
        let pg = sql.text_for(Backend::Postgres);
        assert!(
            pg.contains("IN (SELECT jsonb_array_elements_text(CAST($"),
            "{pg}"
        );
        assert!(sql.args.contains(&Arg::Text(
            serde_json::to_string(&(0..100).map(|i| format!("p{i}")).collect::<Vec<_>>()).unwrap()
        )));
    }

    #[test]
    fn a_client_the_search_names_is_checked_before_a_long_list_only_if_in_scope() {
        let clients: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        let scope = ClientScope {
            clients: clients.into(),
            ..ClientScope::default()
        };
        let about = |id: &str| {
            let mut plan = SearchPlan::new("Observation").scoped(scope.clone());
            plan.filter.all.push(AnyOf {
                conds: vec![Cond::Reference {
                    param: "subject".into(),
                    target_type: Some("Patient".into()),
                    target_id: Some(id.into()),
                    url: None,
                }],
                negate: false,
            });
            search_page(&plan)
        };
        let inside = about("p7");
        let lite = inside.text_for(Backend::Sqlite);
        assert!(
            lite.contains(
                "(r.client_key IN (?) OR ((r.client_key || '') IN (SELECT value FROM json_each(?))"
            ),
            "{lite}"
        );
        let outside = about("stranger");
        let lite = outside.text_for(Backend::Sqlite);
        assert!(!lite.contains("r.client_key IN (?) OR"), "{lite}");
        // Only as the reference condition itself, never as a client key of the scope.
        let stranger = Arg::Text("stranger".into());
        assert_eq!(outside.args.iter().filter(|a| **a == stranger).count(), 1);
    }

    #[test]
    fn chains_and_has_use_the_scope_of_the_type_they_reach() {
        let mut plan = SearchPlan::new("Patient");
        plan.filter.all.push(AnyOf {
            conds: vec![Cond::Has {
                rtype: "MedicationRequest".into(),
                param: "subject".into(),
                inner: Box::default(),
            }],
            negate: false,
        });
        let mut scope = ClientScope {
            clients: vec!["p1".to_string()].into(),
            ..ClientScope::default()
        };
        let sql = search_page(&plan.clone().scoped(scope.clone()));
        assert!(
            sql.text.contains("1 = 0"),
            "no scope for the type reached: nothing: {}",
            sql.text
        );
        scope.linked.insert(
            "MedicationRequest".into(),
            ClientScope {
                clients: vec!["p2".to_string()].into(),
                ..ClientScope::default()
            },
        );
        let sql = search_page(&plan.scoped(scope));
        assert!(!sql.text.contains("1 = 0"), "{}", sql.text);
        assert!(sql.args.contains(&Arg::Text("p2".into())));
    }

    #[test]
    fn on_citus_index_conditions_compare_client_and_id_so_they_run_shard_by_shard() {
        let mut plan = SearchPlan::new("Observation").scoped(ClientScope {
            clients: vec!["p1".to_string()].into(),
            ..ClientScope::default()
        });
        plan.filter.all.push(AnyOf {
            conds: vec![Cond::Token {
                param: "code".into(),
                what: crate::search::TokenMatch::Code("8867-4".into()),
            }],
            negate: false,
        });
        let sql = search_page(&plan);
        let citus = sql.text_for(Backend::Citus);
        assert!(
            citus.contains(
                "(r.client_key, r.id) IN (SELECT i.client_key, i.res_id FROM search_index i"
            ),
            "{citus}"
        );
        assert!(!citus.contains(CLIENT_MARK), "{citus}");
        // Elsewhere the mark is a comment and the id alone is compared.
        for other in [Backend::Sqlite, Backend::Postgres] {
            let text = sql.text_for(other);
            assert!(
                text.contains("r*/ r.id) IN (SELECT /*client-of:i*/ i.res_id"),
                "{text}"
            );
            assert!(!text.contains("r.client_key, r.id"), "{text}");
        }
    }
}

//! Reading a source in key order, batch by batch: keyset pagination on the key (`WHERE key >
//! watermark ORDER BY key LIMIT n`, prepared once), so memory holds one batch whatever the
//! table size and a resumed run starts right after its watermark; each batch's child rows come
//! in one query per child table (`fk = ANY(batch keys)`, ordered).

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Statement};

use super::catalog::{SourcePlan, col, select_list};
use super::convert::PgValue;
use super::document::RowSet;
use super::model::{Source, quote_qualified};
use super::pg::{error_text, value};

/// A source row with its key (as text) and its child rows, one list per embed.
pub struct ParentRow {
    pub key: String,
    pub values: Vec<PgValue>,
    pub children: Vec<Vec<Vec<PgValue>>>,
}

impl ParentRow {
    pub fn row_set(&self) -> RowSet<'_> {
        RowSet {
            row: &self.values,
            children: self
                .children
                .iter()
                .map(|c| c.iter().map(Vec::as_slice).collect())
                .collect(),
        }
    }
}

pub struct SourceReader<'a> {
    pg: &'a Client,
    plan: &'a SourcePlan,
    first: Statement,
    next: Statement,
    children: Vec<(Statement, Option<u64>)>,
}

/// `WHERE` for the rows a run imports (not skipped), after an optional watermark.
fn conditions(src: &Source, plan: &SourcePlan, after: bool) -> String {
    let mut c = Vec::new();
    if after {
        c.push(format!(
            "{} > ($1::text)::{}",
            col("s", &src.key),
            plan.key_type
        ));
    }
    if let Some(skip) = &src.skip {
        c.push(format!("NOT COALESCE(({skip}), false)"));
    }
    if c.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", c.join(" AND "))
    }
}

async fn prepare(pg: &Client, sql: &str) -> Result<Statement> {
    pg.prepare(sql)
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_text(&e)))
        .with_context(|| format!("preparing {sql}"))
}

impl<'a> SourceReader<'a> {
    pub async fn new(pg: &'a Client, src: &'a Source, plan: &'a SourcePlan) -> Result<Self> {
        let mut extra = format!(", {}::text AS \"__mongoctl_key\"", col("s", &src.key));
        for (i, e) in src.embeds.iter().enumerate() {
            extra.push_str(&format!(
                ", {}::text AS \"__mongoctl_ref{i}\"",
                col("s", &e.references)
            ));
        }
        let select = |after: bool, limit: &str| {
            format!(
                "SELECT {}{extra} FROM {}{} ORDER BY {} LIMIT {limit}",
                select_list("s", &plan.columns),
                src.from.from_sql(),
                conditions(src, plan, after),
                col("s", &src.key),
            )
        };
        let first = prepare(pg, &select(false, "$1")).await?;
        let next = prepare(pg, &select(true, "$2")).await?;
        let mut children = Vec::new();
        for (e, ep) in src.embeds.iter().zip(&plan.embeds) {
            let mut order = vec![col("c", &e.foreign_key)];
            let dir = if e.descending { " DESC" } else { "" };
            order.extend(e.order_by.iter().map(|o| format!("{}{dir}", col("c", o))));
            let sql = format!(
                "SELECT {}, {}::text AS \"__mongoctl_fk\" FROM {} c WHERE {} = ANY(($1::text[])::{}[]) ORDER BY {}",
                select_list("c", &ep.columns),
                col("c", &e.foreign_key),
                quote_qualified(&e.table),
                col("c", &e.foreign_key),
                ep.fk_type,
                order.join(", ")
            );
            children.push((prepare(pg, &sql).await?, e.limit));
        }
        Ok(SourceReader {
            pg,
            plan,
            first,
            next,
            children,
        })
    }

    /// Up to `limit` rows after `after` (from the start when `None`), in key order.
    pub async fn batch(&self, after: Option<&str>, limit: i64) -> Result<Vec<ParentRow>> {
        let rows = match after {
            None => self.pg.query(&self.first, &[&limit]).await,
            Some(w) => self.pg.query(&self.next, &[&w, &limit]).await,
        }
        .map_err(|e| anyhow::anyhow!("reading the source: {}", error_text(&e)))?;
        let n = self.plan.columns.len();
        let mut out = Vec::with_capacity(rows.len());
        let mut refs: Vec<Vec<Option<String>>> = vec![Vec::new(); self.children.len()];
        for row in &rows {
            let mut values = Vec::with_capacity(n);
            for (i, (_, kind)) in self.plan.columns.iter().enumerate() {
                values.push(value(row, i, kind)?);
            }
            let key: String = row.try_get(n)?;
            for (j, r) in refs.iter_mut().enumerate() {
                r.push(row.try_get::<_, Option<String>>(n + 1 + j)?);
            }
            out.push(ParentRow {
                key,
                values,
                children: vec![Vec::new(); self.children.len()],
            });
        }
        for (j, ((st, limit), ep)) in self.children.iter().zip(&self.plan.embeds).enumerate() {
            let wanted: Vec<&String> = refs[j].iter().flatten().collect();
            if wanted.is_empty() {
                continue;
            }
            let child_rows = self
                .pg
                .query(st, &[&wanted])
                .await
                .map_err(|e| anyhow::anyhow!("reading child rows: {}", error_text(&e)))?;
            let m = ep.columns.len();
            let mut by_ref: HashMap<String, Vec<Vec<PgValue>>> = HashMap::new();
            for row in &child_rows {
                let fk: String = row.try_get(m)?;
                let group = by_ref.entry(fk).or_default();
                if limit.is_some_and(|l| group.len() as u64 >= l) {
                    continue;
                }
                let mut values = Vec::with_capacity(m);
                for (i, (_, kind)) in ep.columns.iter().enumerate() {
                    values.push(value(row, i, kind)?);
                }
                group.push(values);
            }
            for (p, r) in out.iter_mut().zip(&refs[j]) {
                if let Some(r) = r
                    && let Some(kids) = by_ref.remove(r)
                {
                    p.children[j] = kids;
                }
            }
        }
        Ok(out)
    }
}

/// Rows of `src`: all of them, and those its skip predicate skips.
pub async fn count_rows(pg: &Client, src: &Source) -> Result<(u64, u64)> {
    let skipped = match &src.skip {
        Some(skip) => format!("count(*) FILTER (WHERE COALESCE(({skip}), false))"),
        None => "0::int8".into(),
    };
    let row = pg
        .query_one(
            &format!("SELECT count(*), {skipped} FROM {}", src.from.from_sql()),
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("counting {}: {}", src.from.describe(), error_text(&e)))?;
    let all: i64 = row.get(0);
    let skip: i64 = row.get(1);
    Ok((all as u64, skip as u64))
}

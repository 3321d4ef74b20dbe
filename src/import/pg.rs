//! The PostgreSQL edge: connecting (the password never shown: the URI is redacted and the
//! password registered for scrubbing), column types as [`PgKind`], and row values as
//! [`PgValue`].

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::{Kind, Type};
use tokio_postgres::{Client, Config, NoTls, Row};

use super::convert::{PgKind, PgValue};

/// Where the password came from when the URI holds none.
pub enum Password {
    /// `PGPASSWORD`, or a hidden prompt on a terminal.
    Given(String),
    None,
}

/// Connects to `uri` (`postgres://user@host:port/db`). The URI is shown redacted in every
/// message; a password in it, in `password`, is registered so errors are scrubbed of it.
pub async fn connect(uri: &str, password: Password) -> Result<Client> {
    let shown = crate::redact::redact_uri(uri);
    let mut config: Config = uri
        .parse()
        .map_err(|e| anyhow::anyhow!("{}", crate::redact::scrub(&format!("{e}"))))
        .with_context(|| format!("parsing the PostgreSQL connection string {shown}"))?;
    if let Some(p) = config.get_password() {
        crate::redact::register(&String::from_utf8_lossy(p));
    }
    if config.get_password().is_none()
        && let Password::Given(p) = password
    {
        crate::redact::register(&p);
        config.password(p);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    let hint = if config.get_password().is_none() {
        " (no password was given: set PGPASSWORD, or run on a terminal to be asked)"
    } else {
        ""
    };
    let (client, conn) = config.connect(NoTls).await.map_err(|e| {
        anyhow::anyhow!(
            "connecting to PostgreSQL at {shown}: {}{hint}",
            crate::redact::scrub(&error_text(&e))
        )
    })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The server's message (`db_error`) when there is one, else the driver's.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                s.push_str(&format!(": {c}"));
                src = c.source();
            }
            s
        }
    }
}

pub fn kind_of(t: &Type) -> PgKind {
    match *t {
        Type::BOOL => PgKind::Bool,
        Type::INT2 => PgKind::Int2,
        Type::INT4 => PgKind::Int4,
        Type::INT8 => PgKind::Int8,
        Type::FLOAT4 | Type::FLOAT8 => PgKind::Float,
        Type::NUMERIC => PgKind::Numeric,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => PgKind::Text,
        Type::UUID => PgKind::Uuid,
        Type::TIMESTAMPTZ | Type::TIMESTAMP => PgKind::Timestamp,
        Type::DATE => PgKind::Date,
        Type::JSON | Type::JSONB => PgKind::Json,
        _ => match t.kind() {
            Kind::Array(e) => PgKind::Array(Box::new(kind_of(e))),
            _ => PgKind::Other(t.name().to_string()),
        },
    }
}

/// How a column is selected: types without a binary decoder here are read as text.
pub fn select_expr(alias: &str, column: &str, kind: &PgKind) -> String {
    let c = format!("{alias}.{}", super::model::quote_ident(column));
    let q = super::model::quote_ident(column);
    match kind {
        PgKind::Numeric | PgKind::Other(_) => format!("{c}::text AS {q}"),
        PgKind::Array(e)
            if matches!(**e, PgKind::Numeric | PgKind::Other(_) | PgKind::Array(_)) =>
        {
            format!("{c}::text[] AS {q}")
        }
        _ => c,
    }
}

/// The kind a value arrives as after [`select_expr`].
fn wire_kind(kind: &PgKind) -> PgKind {
    match kind {
        PgKind::Numeric => PgKind::Numeric,
        PgKind::Other(_) => PgKind::Text,
        PgKind::Array(e)
            if matches!(**e, PgKind::Numeric | PgKind::Other(_) | PgKind::Array(_)) =>
        {
            PgKind::Array(Box::new(PgKind::Text))
        }
        k => k.clone(),
    }
}

/// Column `idx` of `row`, read as `kind` (the declared type, see [`select_expr`]).
pub fn value(row: &Row, idx: usize, kind: &PgKind) -> Result<PgValue> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a Row,
        idx: usize,
    ) -> Result<Option<T>> {
        row.try_get::<_, Option<T>>(idx)
            .map_err(|e| anyhow::anyhow!("reading column {idx}: {e}"))
    }
    let wk = wire_kind(kind);
    let v = match &wk {
        PgKind::Bool => get::<bool>(row, idx)?.map(PgValue::Bool),
        PgKind::Int2 => get::<i16>(row, idx)?.map(|i| PgValue::Int(i.into())),
        PgKind::Int4 => get::<i32>(row, idx)?.map(|i| PgValue::Int(i.into())),
        PgKind::Int8 => get::<i64>(row, idx)?.map(PgValue::Int),
        PgKind::Float => float(row, idx)?,
        PgKind::Numeric => get::<String>(row, idx)?.map(PgValue::Numeric),
        PgKind::Text | PgKind::Other(_) => get::<String>(row, idx)?.map(PgValue::Text),
        PgKind::Uuid => get::<uuid::Uuid>(row, idx)?.map(|u| PgValue::Uuid(*u.as_bytes())),
        PgKind::Timestamp => timestamp(row, idx)?,
        PgKind::Date => get::<NaiveDate>(row, idx)?.map(PgValue::Date),
        PgKind::Json => get::<serde_json::Value>(row, idx)?.map(PgValue::Json),
        PgKind::Array(e) => array(row, idx, e)?,
    };
    Ok(v.unwrap_or(PgValue::Null))
}

fn float(row: &Row, idx: usize) -> Result<Option<PgValue>> {
    Ok(if *row.columns()[idx].type_() == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(idx)?
            .map(|f| PgValue::Float(f.into()))
    } else {
        row.try_get::<_, Option<f64>>(idx)?.map(PgValue::Float)
    })
}

fn timestamp(row: &Row, idx: usize) -> Result<Option<PgValue>> {
    Ok(if *row.columns()[idx].type_() == Type::TIMESTAMP {
        // No time zone in the column: taken as UTC.
        row.try_get::<_, Option<NaiveDateTime>>(idx)?
            .map(|t| PgValue::Timestamp(t.and_utc()))
    } else {
        row.try_get::<_, Option<DateTime<Utc>>>(idx)?
            .map(PgValue::Timestamp)
    })
}

fn array(row: &Row, idx: usize, elem: &PgKind) -> Result<Option<PgValue>> {
    fn arr<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a Row,
        idx: usize,
        f: impl Fn(T) -> PgValue,
    ) -> Result<Option<PgValue>> {
        Ok(row.try_get::<_, Option<Vec<Option<T>>>>(idx)?.map(|v| {
            PgValue::Array(
                v.into_iter()
                    .map(|x| x.map(&f).unwrap_or(PgValue::Null))
                    .collect(),
            )
        }))
    }
    match elem {
        PgKind::Bool => arr::<bool>(row, idx, PgValue::Bool),
        PgKind::Int2 => arr::<i16>(row, idx, |i| PgValue::Int(i.into())),
        PgKind::Int4 => arr::<i32>(row, idx, |i| PgValue::Int(i.into())),
        PgKind::Int8 => arr::<i64>(row, idx, PgValue::Int),
        PgKind::Float if *row.columns()[idx].type_() == Type::FLOAT4_ARRAY => {
            arr::<f32>(row, idx, |f| PgValue::Float(f.into()))
        }
        PgKind::Float => arr::<f64>(row, idx, PgValue::Float),
        PgKind::Text => arr::<String>(row, idx, PgValue::Text),
        PgKind::Uuid => arr::<uuid::Uuid>(row, idx, |u| PgValue::Uuid(*u.as_bytes())),
        PgKind::Timestamp if *row.columns()[idx].type_() == Type::TIMESTAMP_ARRAY => {
            arr::<NaiveDateTime>(row, idx, |t| PgValue::Timestamp(t.and_utc()))
        }
        PgKind::Timestamp => arr::<DateTime<Utc>>(row, idx, PgValue::Timestamp),
        PgKind::Date => arr::<NaiveDate>(row, idx, PgValue::Date),
        PgKind::Json => arr::<serde_json::Value>(row, idx, PgValue::Json),
        other => bail!("arrays of {} are not supported", other.name()),
    }
}

//! `tickerd schema --format mermaid`: an ER diagram of the live database,
//! read from its catalog (not from our migrations), so it shows what is
//! really there: tables, columns, keys, foreign keys and, on PostgreSQL,
//! the `COMMENT`s.

use super::{Db, Storage};
use sqlx::Row;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Default, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub primary: bool,
    pub unique: bool,
    pub foreign: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Table {
    pub name: String,
    pub comment: Option<String>,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub table: String,
    pub column: String,
    pub ref_table: String,
    pub ref_column: String,
}

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub tables: Vec<Table>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// Tables of our own bookkeeping that the diagram leaves out.
const HIDDEN: &[&str] = &["_sqlx_migrations"];

impl Storage {
    pub async fn catalog(&self) -> anyhow::Result<Catalog> {
        match &self.db {
            Db::Sqlite(pool) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .fetch_all(pool)
                .await?;
                let mut cat = Catalog::default();
                for name in names.into_iter().filter(|n| !HIDDEN.contains(&n.as_str())) {
                    let fks = sqlx::query(
                        r#"SELECT "table", "from", "to" FROM pragma_foreign_key_list($1)"#,
                    )
                    .bind(&name)
                    .fetch_all(pool)
                    .await?;
                    let mut fk_cols = vec![];
                    for fk in fks {
                        let column: String = fk.try_get("from")?;
                        fk_cols.push(column.clone());
                        cat.foreign_keys.push(ForeignKey {
                            table: name.clone(),
                            column,
                            ref_table: fk.try_get("table")?,
                            ref_column: fk
                                .try_get::<Option<String>, _>("to")?
                                .unwrap_or_else(|| "id".into()),
                        });
                    }
                    // Columns of UNIQUE indexes (constraints and explicit ones).
                    let unique: Vec<String> = sqlx::query_scalar(
                        r#"SELECT ii.name FROM pragma_index_list($1) il, pragma_index_info(il.name) ii
                           WHERE il."unique" = 1 AND il.origin <> 'pk'"#,
                    )
                    .bind(&name)
                    .fetch_all(pool)
                    .await?;
                    let cols = sqlx::query(r#"SELECT name, type, "notnull", pk FROM pragma_table_info($1) ORDER BY cid"#)
                        .bind(&name)
                        .fetch_all(pool)
                        .await?;
                    let mut table = Table {
                        name: name.clone(),
                        ..Table::default()
                    };
                    for c in cols {
                        let col: String = c.try_get("name")?;
                        table.columns.push(Column {
                            data_type: c.try_get::<String, _>("type")?,
                            nullable: c.try_get::<i64, _>("notnull")? == 0,
                            primary: c.try_get::<i64, _>("pk")? > 0,
                            unique: unique.contains(&col),
                            foreign: fk_cols.contains(&col),
                            comment: None,
                            name: col,
                        });
                    }
                    cat.tables.push(table);
                }
                Ok(cat)
            }
            Db::Postgres(pool) => {
                let tables = sqlx::query(
                    "SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                     ORDER BY c.relname",
                )
                .fetch_all(pool)
                .await?;
                let cols = sqlx::query(
                    "SELECT c.relname AS table_name, a.attname AS name,
                            format_type(a.atttypid, a.atttypmod) AS data_type,
                            NOT a.attnotnull AS nullable,
                            col_description(c.oid, a.attnum) AS comment,
                            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p' AND a.attnum = ANY (k.conkey)) AS is_pk,
                            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'u' AND a.attnum = ANY (k.conkey)) AS is_unique,
                            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f' AND a.attnum = ANY (k.conkey)) AS is_fk
                     FROM pg_attribute a
                     JOIN pg_class c ON c.oid = a.attrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                     ORDER BY c.relname, a.attnum",
                )
                .fetch_all(pool)
                .await?;
                let fks = sqlx::query(
                    "SELECT c.relname AS table_name, a.attname AS column_name,
                            rc.relname AS ref_table, ra.attname AS ref_column
                     FROM pg_constraint k
                     JOIN pg_class c ON c.oid = k.conrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN pg_class rc ON rc.oid = k.confrelid
                     JOIN LATERAL unnest(k.conkey, k.confkey) AS u(attnum, refnum) ON true
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum
                     JOIN pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = u.refnum
                     WHERE k.contype = 'f' AND n.nspname = current_schema()
                     ORDER BY c.relname, a.attname",
                )
                .fetch_all(pool)
                .await?;
                let mut by_name: BTreeMap<String, Table> = BTreeMap::new();
                for t in tables {
                    let name: String = t.try_get("name")?;
                    let comment: Option<String> = t.try_get("comment")?;
                    by_name.insert(
                        name.clone(),
                        Table {
                            name,
                            comment,
                            columns: vec![],
                        },
                    );
                }
                for c in cols {
                    let table: String = c.try_get("table_name")?;
                    if let Some(t) = by_name.get_mut(&table) {
                        t.columns.push(Column {
                            name: c.try_get("name")?,
                            data_type: c.try_get("data_type")?,
                            nullable: c.try_get("nullable")?,
                            primary: c.try_get("is_pk")?,
                            unique: c.try_get("is_unique")?,
                            foreign: c.try_get("is_fk")?,
                            comment: c.try_get("comment")?,
                        });
                    }
                }
                let mut cat = Catalog::default();
                for f in fks {
                    cat.foreign_keys.push(ForeignKey {
                        table: f.try_get("table_name")?,
                        column: f.try_get("column_name")?,
                        ref_table: f.try_get("ref_table")?,
                        ref_column: f.try_get("ref_column")?,
                    });
                }
                cat.tables = by_name
                    .into_values()
                    .filter(|t| !HIDDEN.contains(&t.name.as_str()))
                    .collect();
                Ok(cat)
            }
        }
    }
}

fn mermaid_word(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let w = w.trim_matches('_').to_string();
    if w.is_empty() {
        "unknown".into()
    } else {
        w
    }
}

fn quote(s: &str) -> String {
    s.replace('"', "'").replace('\n', " ")
}

/// Renders a catalog as a Mermaid `erDiagram`.
pub fn to_mermaid(cat: &Catalog) -> String {
    let mut s = String::from("erDiagram\n");
    for t in &cat.tables {
        if let Some(c) = &t.comment {
            let _ = writeln!(s, "    %% {}: {}", t.name, quote(c));
        }
        let _ = writeln!(s, "    {} {{", mermaid_word(&t.name));
        for c in &t.columns {
            let mut keys = vec![];
            if c.primary {
                keys.push("PK");
            }
            if c.foreign {
                keys.push("FK");
            }
            if c.unique && !c.primary {
                keys.push("UK");
            }
            let mut line = format!(
                "        {} {}",
                mermaid_word(&c.data_type),
                mermaid_word(&c.name)
            );
            if !keys.is_empty() {
                line.push(' ');
                line.push_str(&keys.join(", "));
            }
            let mut note = c.comment.clone().unwrap_or_default();
            if !c.nullable && !c.primary {
                note = if note.is_empty() {
                    "not null".into()
                } else {
                    format!("{note} (not null)")
                };
            }
            if !note.is_empty() {
                let _ = write!(line, " \"{}\"", quote(&note));
            }
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s, "    }}");
    }
    for fk in &cat.foreign_keys {
        let _ = writeln!(
            s,
            "    {} ||--o{{ {} : \"{}.{} -> {}\"",
            mermaid_word(&fk.ref_table),
            mermaid_word(&fk.table),
            quote(&fk.table),
            quote(&fk.column),
            quote(&fk.ref_column)
        );
    }
    s
}

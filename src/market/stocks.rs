//! The ticker master: `stocks`, loaded from a universe CSV
//! (`jobs/universe.csv`) by `tickerd stocks import FILE` and by each
//! ingestion run.
//!
//! Columns: `exchange,code,name,currency,priority,active,aliases,symbols`;
//! `aliases` is `;`-separated, `symbols` is `provider=symbol;...`
//! (`yahoo=005930.KS;kis=005930`). A bad row is reported with its line and
//! the rest are loaded. The key is (exchange, code).

use crate::diagnostics::{Problem, SourceFile};
use crate::on_db;
use crate::storage::BeginWrite as _;
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    pub id: i64,
    pub exchange: String,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub priority: i32,
    pub active: bool,
    pub aliases: Vec<String>,
    pub symbols: BTreeMap<String, String>,
}

impl Stock {
    /// The provider's symbol for this stock; the code when none is given.
    pub fn symbol_for(&self, provider: &str) -> String {
        self.symbols
            .get(provider)
            .cloned()
            .unwrap_or_else(|| self.code.clone())
    }
}

/// One valid universe row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseRow {
    pub line: usize,
    pub exchange: String,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub priority: i32,
    pub active: bool,
    pub aliases: Vec<String>,
    pub symbols: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone)]
pub struct ImportOutcome {
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub problems: Vec<Problem>,
}

const HEADER: [&str; 8] = [
    "exchange", "code", "name", "currency", "priority", "active", "aliases", "symbols",
];

/// Parses a universe CSV: the valid rows, and one problem per bad row.
pub fn parse_universe(path: &Path, text: &str) -> (Vec<UniverseRow>, Vec<Problem>) {
    let src = SourceFile { path, text };
    let problem = |line: usize, msg: String| Problem {
        file: path.to_path_buf(),
        line: Some(line),
        key: String::new(),
        message: msg,
    };
    let mut rows = vec![];
    let mut problems = vec![];
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    match reader.headers() {
        Ok(h) if h.iter().collect::<Vec<_>>() == HEADER => {}
        Ok(h) => {
            problems.push(problem(
                1,
                format!(
                    "header must be {}; found {}",
                    HEADER.join(","),
                    h.iter().collect::<Vec<_>>().join(",")
                ),
            ));
            return (rows, problems);
        }
        Err(e) => {
            problems.push(src.problem(Some(0), "", format!("not a CSV file: {e}")));
            return (rows, problems);
        }
    }
    let mut first_line: HashMap<(String, String), usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                problems.push(problem(line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.len() != HEADER.len() {
            problems.push(problem(
                line,
                format!("expected {} fields, found {}", HEADER.len(), record.len()),
            ));
            continue;
        }
        match parse_row(&record, line) {
            Ok(row) => {
                let key = (row.exchange.clone(), row.code.clone());
                if let Some(first) = first_line.get(&key) {
                    problems.push(problem(
                        line,
                        format!("{}:{} repeats line {first}", row.exchange, row.code),
                    ));
                    continue;
                }
                first_line.insert(key, line);
                rows.push(row);
            }
            Err(msg) => problems.push(problem(line, msg)),
        }
    }
    (rows, problems)
}

fn parse_row(r: &csv::StringRecord, line: usize) -> Result<UniverseRow, String> {
    let field = |i: usize| r.get(i).unwrap_or("").to_string();
    let exchange = field(0);
    if exchange.is_empty()
        || !exchange
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(format!(
            "exchange {exchange:?} must be an upper-case MIC such as XKRX"
        ));
    }
    let code = field(1);
    if code.is_empty() {
        return Err("code is empty".into());
    }
    let name = field(2);
    if name.is_empty() {
        return Err("name is empty".into());
    }
    let currency = field(3);
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(format!("currency {currency:?} must be a 3-letter ISO code"));
    }
    let priority: i32 = field(4)
        .parse()
        .ok()
        .filter(|p| (1..=5).contains(p))
        .ok_or_else(|| format!("priority {:?} must be 1 to 5", field(4)))?;
    let active = match field(5).to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "y" => true,
        "0" | "false" | "no" | "n" => false,
        other => return Err(format!("active {other:?} must be true or false")),
    };
    let aliases = field(6)
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    let mut symbols = BTreeMap::new();
    for pair in field(7).split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (provider, symbol) = pair
            .split_once('=')
            .ok_or_else(|| format!("symbols entry {pair:?} must be provider=symbol"))?;
        let provider = provider.trim();
        if !crate::market::providers::Provider::NAMES.contains(&provider) {
            return Err(format!("symbols: unknown provider {provider:?}"));
        }
        symbols.insert(provider.to_string(), symbol.trim().to_string());
    }
    Ok(UniverseRow {
        line,
        exchange,
        code,
        name,
        currency,
        priority,
        active,
        aliases,
        symbols,
    })
}

/// Upserts rows; unchanged rows are left alone (and counted).
pub async fn upsert(
    storage: &Storage,
    rows: &[UniverseRow],
    source: &str,
    run_id: Option<i64>,
) -> anyhow::Result<(usize, usize)> {
    let now: DateTime<Utc> = storage.now().await?;
    let (mut inserted, mut updated) = (0, 0);
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        for row in rows {
            let created: Option<DateTime<Utc>> = sqlx::query_scalar(
                "INSERT INTO stocks (exchange, code, name, currency, priority, active, aliases, symbols, source, run_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                 ON CONFLICT (exchange, code) DO UPDATE SET name = excluded.name, currency = excluded.currency,
                     priority = excluded.priority, active = excluded.active, aliases = excluded.aliases,
                     symbols = excluded.symbols, source = excluded.source, run_id = excluded.run_id,
                     updated_at = excluded.updated_at
                 WHERE stocks.name IS DISTINCT FROM excluded.name OR stocks.currency IS DISTINCT FROM excluded.currency
                    OR stocks.priority IS DISTINCT FROM excluded.priority OR stocks.active IS DISTINCT FROM excluded.active
                    OR stocks.aliases IS DISTINCT FROM excluded.aliases OR stocks.symbols IS DISTINCT FROM excluded.symbols
                 RETURNING created_at",
            )
            .bind(&row.exchange)
            .bind(&row.code)
            .bind(&row.name)
            .bind(&row.currency)
            .bind(row.priority)
            .bind(row.active)
            .bind(serde_json::to_string(&row.aliases)?)
            .bind(serde_json::to_string(&row.symbols)?)
            .bind(source)
            .bind(run_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            match created {
                Some(c) if c == now => inserted += 1,
                Some(_) => updated += 1,
                None => {}
            }
        }
        tx.commit().await?;
    });
    Ok((inserted, updated))
}

/// Reads a universe file and upserts its valid rows.
pub async fn import(
    storage: &Storage,
    path: &Path,
    run_id: Option<i64>,
) -> anyhow::Result<ImportOutcome> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let (rows, problems) = parse_universe(path, &text);
    let source = format!("universe:{}", path.display());
    let (inserted, updated) = upsert(storage, &rows, &source, run_id).await?;
    Ok(ImportOutcome {
        rows: rows.len(),
        inserted,
        updated,
        unchanged: rows.len() - inserted - updated,
        problems,
    })
}

/// Every stock, or the active ones, by (exchange, code).
pub async fn load(storage: &Storage, active_only: bool) -> anyhow::Result<Vec<Stock>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT id, exchange, code, name, currency, priority, active, aliases, symbols FROM stocks
             WHERE ($1 = FALSE OR active = TRUE) ORDER BY exchange, code",
        )
        .bind(active_only)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let aliases: String = r.try_get("aliases")?;
            let symbols: String = r.try_get("symbols")?;
            out.push(Stock {
                id: r.try_get("id")?,
                exchange: r.try_get("exchange")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                currency: r.try_get("currency")?,
                priority: r.try_get("priority")?,
                active: r.try_get("active")?,
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                symbols: serde_json::from_str(&symbols).unwrap_or_default(),
            });
        }
        out
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_with_their_lines_and_the_rest_kept() {
        let text = "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,삼성전자;Samsung,yahoo=005930.KS;kis=005930\n\
XKRX,000660,SK hynix,KRW,9,true,,\n\
xkrx,035420,NAVER,KRW,2,true,,\n\
XNYS,AAPL,\"Apple Inc., common\",USD,1,yes,Apple,yahoo=AAPL;stooq=aapl.us\n\
XKRX,005930,Samsung again,KRW,1,true,,\n\
XNYS,MSFT,Microsoft,USD,2,true,,bloomberg=MSFT US\n";
        let (rows, problems) = parse_universe(Path::new("universe.csv"), text);
        assert_eq!(
            rows.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            ["005930", "AAPL"]
        );
        assert_eq!(rows[1].name, "Apple Inc., common");
        assert_eq!(rows[0].aliases, ["삼성전자", "Samsung"]);
        assert_eq!(rows[0].symbols["yahoo"], "005930.KS");
        let lines: Vec<_> = problems
            .iter()
            .map(|p| (p.line.unwrap(), p.message.clone()))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0].0, 3);
        assert!(lines[0].1.contains("priority"));
        assert_eq!(lines[1].0, 4);
        assert!(lines[2].1.contains("repeats line 2"), "{lines:?}");
        assert!(lines[3].1.contains("unknown provider \"bloomberg\""));
    }
}

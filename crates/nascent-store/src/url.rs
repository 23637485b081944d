//! Storage URLs: `memory:`, `sqlite:///path/to.db`, a plain path to an SQLite file, or
//! `postgresql://user@host:port/database` (also `postgres://`).

use crate::memory::MemoryStorage;
use crate::postgres::{PgOptions, PostgresStorage};
use crate::sqlite::{SqliteOptions, SqliteStorage};
use nascent_core::storage::{Storage, StorageError, StorageResult};
use std::path::PathBuf;

/// Where a storage lives, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageUrl {
    /// `memory:` (also `:memory:`): in this process only.
    Memory,
    /// `sqlite://PATH` (so `sqlite:///abs/path.db` is absolute and `sqlite://rel.db`
    /// relative), `sqlite:PATH`, or a plain path.
    Sqlite(PathBuf),
    /// `postgresql://user[:password]@host[:port]/database[?param=value...]` or
    /// `postgres://...`: a PostgreSQL database shared by every machine.
    Postgres(String),
}

impl StorageUrl {
    /// Parses a storage URL; the error names it and says what is accepted.
    pub fn parse(url: &str) -> StorageResult<Self> {
        let bad = |reason: &str| StorageError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let u = url.trim();
        if u.is_empty() {
            return Err(bad(
                "it is empty (use `sqlite:///path/to.db`, a path, or `memory:`)",
            ));
        }
        if u == "memory:" || u == ":memory:" || u == "memory://" {
            return Ok(StorageUrl::Memory);
        }
        if let Some(rest) = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(bad("no file path after `sqlite://`"));
            }
            return Ok(StorageUrl::Sqlite(PathBuf::from(rest)));
        }
        if let Some((scheme, rest)) = u.split_once("://") {
            if scheme == "postgres" || scheme == "postgresql" {
                if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
                    return Err(bad("no host (use `postgresql://user@host:port/database`)"));
                }
                let path = rest.split_once('?').map_or(rest, |(p, _)| p);
                let db = path.split_once('/').map_or("", |(_, d)| d);
                if db.is_empty() {
                    return Err(bad(
                        "no database name (use `postgresql://user@host:port/database`)",
                    ));
                }
                return Ok(StorageUrl::Postgres(u.to_string()));
            }
            return Err(bad(&format!(
                "unknown scheme `{scheme}` (use `sqlite:///path/to.db`, a path, `memory:` or \
                 `postgresql://user@host:port/database`)"
            )));
        }
        Ok(StorageUrl::Sqlite(PathBuf::from(u)))
    }
}

/// Opens the storage a URL names (creating an SQLite file if it does not exist); errors name
/// the URL.
pub fn open(url: &str) -> StorageResult<Box<dyn Storage>> {
    open_with(url, &SqliteOptions::default())
}

/// Opens the storage a URL names with these SQLite options.
pub fn open_with(url: &str, options: &SqliteOptions) -> StorageResult<Box<dyn Storage>> {
    Ok(match StorageUrl::parse(url)? {
        StorageUrl::Memory => Box::new(MemoryStorage::new()),
        StorageUrl::Sqlite(path) => Box::new(SqliteStorage::open_with(path, url, options)?),
        StorageUrl::Postgres(u) => Box::new(PostgresStorage::open_with(&u, &PgOptions::default())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(StorageUrl::parse("memory:").unwrap(), StorageUrl::Memory);
        assert_eq!(
            StorageUrl::parse("sqlite:///tmp/a.db").unwrap(),
            StorageUrl::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            StorageUrl::parse("sqlite://a.db").unwrap(),
            StorageUrl::Sqlite("a.db".into())
        );
        assert_eq!(
            StorageUrl::parse("./nascent.db").unwrap(),
            StorageUrl::Sqlite("./nascent.db".into())
        );
        assert_eq!(
            StorageUrl::parse("postgresql://u@h:5433/db").unwrap(),
            StorageUrl::Postgres("postgresql://u@h:5433/db".into())
        );
        assert_eq!(
            StorageUrl::parse("postgres://h/db?application_name=w").unwrap(),
            StorageUrl::Postgres("postgres://h/db?application_name=w".into())
        );
        for bad in [
            "",
            "sqlite://",
            "mysql://x/y",
            "postgres://h",
            "postgresql://h/",
            "postgresql:///db",
        ] {
            let e = StorageUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        let e = StorageUrl::parse("postgres://h").unwrap_err().to_string();
        assert!(e.contains("database name"), "{e}");
    }
}

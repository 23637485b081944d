//! Storage URLs: `memory:`, `sqlite:///path/to.db`, or a plain path to an SQLite file.

use crate::memory::MemoryStorage;
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
        if let Some((scheme, _)) = u.split_once("://") {
            let reason = match scheme {
                "postgres" | "postgresql" => {
                    "PostgreSQL storage is not part of this build (use `sqlite:///path/to.db` \
                     or `memory:`)"
                        .to_string()
                }
                _ => format!(
                    "unknown scheme `{scheme}` (use `sqlite:///path/to.db`, a path, or `memory:`)"
                ),
            };
            return Err(bad(&reason));
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
        for bad in ["", "sqlite://", "mysql://x/y", "postgres://h/db"] {
            let e = StorageUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        let e = StorageUrl::parse("postgres://h/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("PostgreSQL"), "{e}");
    }
}

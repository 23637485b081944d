//! One module per command.

pub mod analyze;
pub mod bench;
pub mod best;
pub mod compare;
pub mod dashboard;
pub mod export;
pub mod inspect;
pub mod oneshot;
pub mod proxies;
pub mod report;
pub mod resume;
pub mod search;
pub mod train;
pub mod trials;
pub mod worker;

use anyhow::{Result, anyhow};
use nascent_core::storage::{Storage, StudyRecord};
use nascent_store::StorageUrl;

/// Opens a storage that must exist already (commands that read a study never create one).
pub fn open_existing(url: &str) -> Result<Box<dyn Storage>> {
    if let StorageUrl::Sqlite(path) = StorageUrl::parse(url)?
        && !path.exists()
    {
        return Err(anyhow!(
            "no storage at `{url}` ({} does not exist); run `nascent search` first or pass --storage",
            path.display()
        ));
    }
    Ok(nascent_store::open(url)?)
}

/// `--storage` and `--study` of the commands that read a study.
#[derive(clap::Args, Debug)]
pub struct StudyArgs {
    /// The storage URL (`nascent.db`, `sqlite:///path.db`).
    #[arg(long, default_value = "nascent.db")]
    pub storage: String,
    /// The study's name (default: the only study in the storage, else `default`).
    #[arg(long)]
    pub study: Option<String>,
}

impl StudyArgs {
    /// Opens the storage and finds the study.
    pub fn open(&self) -> Result<(Box<dyn Storage>, StudyRecord)> {
        let storage = open_existing(&self.storage)?;
        let record = match &self.study {
            Some(name) => storage.study(name)?,
            None => {
                let all = storage.studies()?;
                match all.len() {
                    0 => return Err(anyhow!("storage `{}` holds no study", self.storage)),
                    1 => all.into_iter().next().expect("one study"),
                    _ => {
                        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                        return Err(anyhow!(
                            "storage `{}` holds several studies ({}); name one with --study",
                            self.storage,
                            names.join(", ")
                        ));
                    }
                }
            }
        };
        Ok((storage, record))
    }
}

/// `--space`: the name of a registered search space (`nascent_train::study::spaces`), its
/// summary in `--help`.
pub fn space_parser() -> clap::builder::PossibleValuesParser {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    clap::builder::PossibleValuesParser::new(
        nascent_train::study::spaces()
            .into_iter()
            .map(|s| clap::builder::PossibleValue::new(leak(s.name)).help(leak(s.summary))),
    )
}

/// A metric value for a table cell.
pub fn fmt_value(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1e5 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}"),
        None => "-".into(),
    }
}

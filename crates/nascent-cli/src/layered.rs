//! Layering of study settings: the file over the defaults, `NASCENT_SET__*` environment
//! variables over the file, `--set key=value` flags over both, merged as TOML before the typed
//! parse (the schema and its checks are nascent-study's).

use anyhow::{Context, Result, anyhow, bail};
use nascent_study::StudySettings;
use std::path::Path;

/// The default study, what `nascent search` runs without a file: synflow ranks every NB201
/// cell, the best is retrained at 16 channels for the time left (the file says why).
pub const DEFAULT_STUDY: &str = include_str!("default_study.toml");

/// Settings file plus overrides, merged as TOML before typed parsing.
///
/// A table written in the study file is taken as written (its missing fields take their
/// type's defaults); a table it leaves out takes the base settings ([`StudySettings`]'s
/// defaults). Without a file, [`DEFAULT_STUDY`] is the file. Overrides (`--set`, the
/// environment) then change single fields and keep the rest of their table: `--set
/// fidelity.data_fraction=0.05` keeps the default `epochs = 1` and `cells = 1`. An override
/// of a table's `kind` (`--set strategy.kind=random`) starts that table afresh.
pub struct Layered {
    /// The file over the defaults (or the stored settings).
    base: toml::Table,
    /// The overrides, in the shape of the document.
    overrides: toml::Table,
    /// Where the file came from (for error messages).
    pub origin: String,
}

impl Layered {
    /// Reads `file` (if any) over the default study, then takes `NASCENT_SET` style
    /// environment overrides and the `--set` flags, in that order.
    pub fn load(file: Option<&Path>, env: &[(String, String)], sets: &[String]) -> Result<Self> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read study file {}", path.display()))?;
                Self::from_text(&text, &path.display().to_string(), env, sets)
            }
            None => Self::from_text(DEFAULT_STUDY, "the default study", env, sets),
        }
    }

    /// As [`Layered::load`], with the study file's `text` read from `origin` (named in errors).
    pub fn from_text(
        text: &str,
        origin: &str,
        env: &[(String, String)],
        sets: &[String],
    ) -> Result<Self> {
        let doc: toml::Table = toml::from_str(text)
            .map_err(|e| anyhow!("{origin}: malformed TOML: {}", e.to_string().trim()))?;
        let mut base = to_table(&StudySettings::default())?;
        base.extend(doc);
        let mut overrides = toml::Table::new();
        for (k, v) in env {
            set_dotted(&mut overrides, k, v)
                .with_context(|| format!("environment override {k}"))?;
        }
        let mut layered = Layered {
            base,
            overrides,
            origin: origin.to_string(),
        };
        layered.apply_sets(sets)?;
        Ok(layered)
    }

    /// Starts from stored settings (to resume a study with some fields changed).
    pub fn from_settings(settings: &StudySettings, origin: String) -> Result<Self> {
        Ok(Layered {
            base: to_table(settings)?,
            overrides: toml::Table::new(),
            origin,
        })
    }

    /// Applies `--set KEY=VALUE` overrides.
    pub fn apply_sets(&mut self, sets: &[String]) -> Result<()> {
        for s in sets {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                anyhow!("--set `{s}`: expected KEY=VALUE, e.g. strategy.population=50")
            })?;
            set_dotted(&mut self.overrides, k.trim(), v.trim())
                .with_context(|| format!("--set {s}"))?;
        }
        Ok(())
    }

    /// The merged document.
    pub fn doc(&self) -> toml::Table {
        let mut doc = self.base.clone();
        merge(&mut doc, self.overrides.clone());
        doc
    }

    /// Parses the merged document into `T`, naming the dotted field of any error.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let value = toml::Value::Table(self.doc());
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                anyhow!("{}: {}", self.origin, inner.to_string().trim())
            } else {
                anyhow!(
                    "{}: field `{}`: {}",
                    self.origin,
                    path,
                    inner.to_string().trim()
                )
            }
        })
    }
}

fn to_table(settings: &StudySettings) -> Result<toml::Table> {
    toml::Table::try_from(settings).map_err(|e| anyhow!("cannot turn settings into TOML: {e}"))
}

/// Merges `over` into `base` field by field; a table whose `kind` the override changes is
/// replaced, not merged (the fields of one kind mean nothing to another).
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                if o.get("kind")
                    .is_some_and(|kind| b.get("kind") != Some(kind))
                {
                    *b = o;
                } else {
                    merge(b, o);
                }
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Environment overrides: `NASCENT_SET__STRATEGY__POPULATION=50` sets `strategy.population`.
pub fn env_overrides() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("NASCENT_SET__")
                .map(|rest| (rest.to_lowercase().replace("__", "."), v))
        })
        .collect();
    out.sort();
    out
}

/// Sets `a.b.c = value` in `doc`, parsing `value` as a TOML value (a bare word is a string).
pub fn set_dotted(doc: &mut toml::Table, key: &str, value: &str) -> Result<()> {
    if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
        bail!("`{key}` is not a dotted field name");
    }
    let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = doc;
    for p in &parts[..parts.len() - 1] {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{p}` in `{key}` is not a table"))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_estimate::PrunerConfig;
    use nascent_strategy::StrategyConfig;
    use nascent_study::{EvaluatorSettings, Precision};

    fn with(sets: &[&str]) -> StudySettings {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Layered::from_text("", "no file", &[], &sets)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Issue 10: without a file, `nascent search` runs the default study, which ranks cells
    /// by synflow and retrains the best at 16 channels, one cell per stage, for 27 minutes;
    /// it passes the checks and `--set` changes it like a file.
    #[test]
    fn r10_the_default_study_ranks_by_synflow_and_retrains_at_16_channels() {
        let s: StudySettings = Layered::load(None, &[], &[]).unwrap().parse().unwrap();
        let EvaluatorSettings::Proxy(p) = &s.evaluator else {
            panic!("{:?}", s.evaluator)
        };
        assert_eq!(p.proxies, ["synflow"]);
        assert_eq!(s.objectives.len(), 1);
        assert_eq!(s.objectives[0].metric, "synflow");
        assert_eq!(s.strategy.kind().to_string(), "random");
        assert_eq!((s.fidelity.channels, s.fidelity.cells), (Some(16), Some(1)));
        assert_eq!((s.retrain.channels, s.retrain.cells), (Some(16), Some(1)));
        assert_eq!(s.retrain.minutes, 27.0);
        assert_eq!(s.budget.minutes, Some(30.0));
        assert_eq!(s.data.name, StudySettings::default().data.name);
        let sets = vec!["retrain.minutes=20".to_string()];
        let s: StudySettings = Layered::load(None, &[], &sets).unwrap().parse().unwrap();
        assert_eq!(s.retrain.minutes, 20.0);
        assert_eq!(s.retrain.channels, Some(16));
    }

    /// Issue 10: the arithmetic of training is a recipe setting, `auto` unless told; an
    /// unknown one is an error that names the field and the choices.
    #[test]
    fn r10_precision_is_a_recipe_setting_with_a_named_error() {
        assert_eq!(StudySettings::default().train.precision, Precision::Auto);
        let s = with(&[
            "train.precision=bfloat16",
            "retrain.train.precision=float32",
        ]);
        assert_eq!(s.train.precision, Precision::Bfloat16);
        assert_eq!(
            s.retrain.train.map(|t| t.precision),
            Some(Precision::Float32)
        );
        let sets = vec!["train.precision=fp8".to_string()];
        let e = Layered::from_text("", "no file", &[], &sets)
            .unwrap()
            .parse::<StudySettings>()
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("precision") && e.contains("fp8"), "{e}");
        assert!(e.contains("bfloat16") && e.contains("float32"), "{e}");
    }

    /// Issue 9: overriding one field keeps the rest of its table, for every table with
    /// defaults.
    #[test]
    fn r9_an_override_keeps_the_rest_of_its_table() {
        let d = StudySettings::default();
        let s = with(&["fidelity.data_fraction=0.05"]);
        assert_eq!(s.fidelity.data_fraction, Some(0.05));
        assert_eq!(s.fidelity.epochs, Some(1));
        assert_eq!(s.fidelity.cells, Some(1));
        assert_eq!(s.fidelity.channels, d.fidelity.channels);

        let s = with(&["strategy.population=50"]);
        let StrategyConfig::Evolution(e) = s.strategy else {
            panic!("{:?}", s.strategy)
        };
        assert_eq!((e.population, e.sample_size), (50, 3));
        let s = with(&["strategy.kind=random"]);
        assert_eq!(s.strategy.kind().to_string(), "random");

        let s = with(&["train.lr=0.05"]);
        assert_eq!(s.train.lr, 0.05);
        assert_eq!(s.train.batch_size, d.train.batch_size);
        assert_eq!(s.train.weight_decay, d.train.weight_decay);

        let s = with(&["data.validation_fraction=0.2"]);
        assert_eq!(s.data.name, d.data.name);

        let s = with(&["budget.trials=5"]);
        assert_eq!(s.budget.trials, Some(5));
        assert_eq!(s.budget.minutes, d.budget.minutes);

        let s = with(&["retrain.epochs=3"]);
        assert_eq!(s.retrain.epochs, Some(3));
        assert_eq!(s.retrain.minutes, d.retrain.minutes);
        assert_eq!(s.retrain.max_epochs, d.retrain.max_epochs);

        let s = with(&["space.kind=darts"]);
        assert_eq!(s.space.kind, "darts");

        let s = with(&["pruner.kind=median", "pruner.warmup_steps=2"]);
        assert!(
            matches!(s.pruner, PrunerConfig::Median(_)),
            "{:?}",
            s.pruner
        );
        let s = with(&["evaluator.kind=train"]);
        assert_eq!(s.evaluator, EvaluatorSettings::Train { epochs: 5 });
        let s = with(&["evaluator.kind=train", "evaluator.epochs=2"]);
        assert_eq!(s.evaluator, EvaluatorSettings::Train { epochs: 2 });
        let s = with(&["evaluator.kind=surrogate", "evaluator.max_std=1.5"]);
        let EvaluatorSettings::Surrogate(c) = s.evaluator else {
            panic!()
        };
        assert_eq!(c.max_std, 1.5);
        assert_eq!(c.min_observations, 30);

        // Untouched tables are the defaults.
        assert_eq!(with(&[]), d);
    }

    #[test]
    fn a_table_in_a_file_is_taken_as_written_and_overrides_merge_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "[fidelity]\nepochs = 2\ndata_fraction = 0.5\n").unwrap();
        let sets = vec!["fidelity.epochs=3".to_string()];
        let s: StudySettings = Layered::load(Some(&file), &[], &sets)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(s.fidelity.epochs, Some(3));
        assert_eq!(s.fidelity.data_fraction, Some(0.5));
        assert_eq!(
            s.fidelity.channels, None,
            "the file's table is taken as written"
        );
        assert_eq!(s.train, StudySettings::default().train);
    }
}

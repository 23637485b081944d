//! Warm start from cheap scores (zero-cost proxies): any strategy, first fed the best
//! candidates of a scored pool.
//!
//! [`Warm`] wraps a strategy. Its first `k` proposals are the best-scored candidates of the
//! pool (skipping any already in the history); then the inner strategy takes over. The inner
//! strategy is told every result, the warm ones included, so regularized evolution, say,
//! starts with the best of the pool in its population instead of random architectures. The
//! scores cost no queries: they come from a file ([`ScoreFile`], the CSV that
//! `nascent proxies --out` writes).

use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A strategy whose first `k` queries are the best candidates of a scored pool.
#[derive(Debug)]
pub struct Warm<S: SearchSpace, St> {
    inner: St,
    candidates: Arc<Vec<S::Arch>>,
    k: usize,
    proposed: usize,
    cursor: usize,
}

impl<S: SearchSpace, St: Strategy<S>> Warm<S, St> {
    /// Wraps `inner`; `candidates` are ordered best first; the first `k` queries are taken from
    /// them (fewer when the pool runs out).
    pub fn new(inner: St, candidates: Arc<Vec<S::Arch>>, k: usize) -> Self {
        Warm {
            inner,
            candidates,
            k,
            proposed: 0,
            cursor: 0,
        }
    }

    /// Warm proposals made so far.
    pub fn proposed(&self) -> usize {
        self.proposed
    }

    /// The inner strategy.
    pub fn inner(&self) -> &St {
        &self.inner
    }
}

impl<S: SearchSpace, St: Strategy<S>> Strategy<S> for Warm<S, St> {
    fn name(&self) -> String {
        format!("{}+warm", self.inner.name())
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        if self.proposed < self.k {
            while let Some(a) = self.candidates.get(self.cursor) {
                self.cursor += 1;
                if !history.contains(a) {
                    self.proposed += 1;
                    return Some(a.clone());
                }
            }
        }
        self.inner.ask(space, history, rng)
    }

    fn tell(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        self.inner.tell(space, history, index, rng);
    }

    fn repeated(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        self.inner.repeated(space, history, index, rng);
    }

    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        // The warm proposals already made are the candidates in the history (`ask` skips
        // them again from the start of the pool).
        let made = self
            .candidates
            .iter()
            .filter(|a| history.contains(a))
            .count();
        self.proposed = made.min(self.k);
        self.cursor = 0;
        self.inner.restore(space, history, rng);
    }
}

/// A CSV of scores per architecture: a header with an `arch` column (the space's notation)
/// and numeric score columns; other text columns are ignored. Values may be `nan`, `inf` or
/// `-inf`; an empty cell is missing (NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreFile {
    path: PathBuf,
    archs: Vec<String>,
    columns: Vec<String>,
    /// `values[row][column]`.
    values: Vec<Vec<f64>>,
}

impl ScoreFile {
    /// Reads a score file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses the text of a score file read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| Error::data(path, None, "empty file: expected a header line"))?;
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        // `arch_str` is NAS-Bench-201's own name for it (its table is a score file too).
        let arch_col = names
            .iter()
            .position(|n| n == "arch")
            .or_else(|| names.iter().position(|n| n == "arch_str"))
            .ok_or_else(|| {
                Error::data(
                    path,
                    Some(1),
                    "no `arch` (or `arch_str`) column in the header",
                )
            })?;
        let mut archs = Vec::new();
        let mut cells: Vec<Vec<String>> = Vec::new();
        for (i, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != names.len() {
                return Err(Error::data(
                    path,
                    Some(i + 1),
                    format!(
                        "{} fields, but the header has {}",
                        fields.len(),
                        names.len()
                    ),
                ));
            }
            archs.push(fields[arch_col].to_string());
            cells.push(fields.iter().map(|s| s.to_string()).collect());
        }
        if archs.is_empty() {
            return Err(Error::data(path, None, "no rows after the header"));
        }
        // Numeric columns: every cell parses as a number (or is empty).
        let numeric: Vec<usize> = (0..names.len())
            .filter(|&c| c != arch_col)
            .filter(|&c| {
                cells
                    .iter()
                    .all(|r| r[c].is_empty() || r[c].parse::<f64>().is_ok())
            })
            .collect();
        let columns = numeric.iter().map(|&c| names[c].clone()).collect();
        let values = cells
            .iter()
            .map(|r| {
                numeric
                    .iter()
                    .map(|&c| r[c].parse::<f64>().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        Ok(ScoreFile {
            path: path.to_path_buf(),
            archs,
            columns,
            values,
        })
    }

    /// The numeric columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The architectures, in file order.
    pub fn archs(&self) -> &[String] {
        &self.archs
    }

    /// The rows, best first, by `score`: a column name (higher is better), or several joined
    /// by `+` (the sum of their ranks, each column ranked higher-is-better). Non-finite scores
    /// rank last; ties keep file order.
    pub fn ranking(&self, score: &str) -> Result<Vec<usize>> {
        let mut total = vec![0.0f64; self.archs.len()];
        for name in score.split('+').map(str::trim) {
            // The benchmark's answer is in the file for checking the proxies; ranking by it
            // would make the warm start an oracle.
            if name.contains("accuracy") || name == "index" {
                return Err(Error::config(
                    "proxy",
                    format!(
                        "`{name}` in {} is not a proxy score (it is the benchmark's answer or a \
                         row number); use one of the proxies' columns",
                        self.path.display()
                    ),
                ));
            }
            let c = self.columns.iter().position(|n| n == name).ok_or_else(|| {
                Error::config(
                    "proxy",
                    format!(
                        "no score column `{name}` in {} (columns: {})",
                        self.path.display(),
                        self.columns.join(", ")
                    ),
                )
            })?;
            let col: Vec<f64> = self.values.iter().map(|r| r[c]).collect();
            for (t, r) in total.iter_mut().zip(nascent_core::stats::ranks(&col)) {
                *t += r;
            }
        }
        let mut order: Vec<usize> = (0..total.len()).collect();
        order.sort_by(|&a, &b| total[b].total_cmp(&total[a]));
        Ok(order)
    }

    /// The architectures of `space`, best first by `score` (see [`ScoreFile::ranking`]).
    pub fn ranked_archs<S: SearchSpace>(&self, space: &S, score: &str) -> Result<Vec<S::Arch>> {
        self.ranking(score)?
            .into_iter()
            .map(|i| {
                space.parse(&self.archs[i]).map_err(|e| {
                    Error::data(
                        &self.path,
                        Some(i + 2),
                        format!("arch `{}`: {e}", self.archs[i]),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvolutionConfig;
    use nascent_core::{Budget, Evaluation, Evaluator, Objective, Outcome, Reporter, run_queries};
    use nascent_space::{Nb201Arch, Nb201Space};

    struct Ops;
    impl Evaluator<Nb201Arch> for Ops {
        fn metrics(&self) -> Vec<String> {
            vec!["acc".into()]
        }
        fn evaluate(&self, a: &Nb201Arch, _: &Budget, _: &mut dyn Reporter) -> Outcome {
            let mut metrics = nascent_core::Metrics::new();
            metrics.insert(
                "acc".into(),
                a.0.iter().map(|&o| o as usize as f64).sum::<f64>(),
            );
            Outcome::Complete(Evaluation {
                metrics,
                cost_seconds: 0.0,
            })
        }
    }

    fn file() -> ScoreFile {
        let text = "index,arch,p,q\n\
            1,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,nan,3\n\
            2,|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|,5,1\n\
            3,|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|,2,2\n";
        ScoreFile::parse(text, Path::new("s.csv")).unwrap()
    }

    #[test]
    fn ranking_by_a_column_and_by_summed_ranks() {
        let f = file();
        assert_eq!(f.columns(), ["index", "p", "q"]);
        assert_eq!(f.ranking("p").unwrap(), vec![1, 2, 0]);
        assert_eq!(f.ranking("q").unwrap(), vec![0, 2, 1]);
        // p ranks (1, 3, 2), q ranks (3, 1, 2): sums 4, 4, 4: ties keep file order.
        assert_eq!(f.ranking("p+q").unwrap(), vec![0, 1, 2]);
        let e = f.ranking("r").unwrap_err().to_string();
        assert!(
            e.contains("no score column `r`") && e.contains("s.csv"),
            "{e}"
        );
        let archs = f.ranked_archs(&Nb201Space::new(), "p").unwrap();
        assert_eq!(archs[0].to_string(), f.archs()[1]);
        for oracle in ["index", "test_accuracy", "p+test_accuracy"] {
            let e = f.ranking(oracle).unwrap_err().to_string();
            assert!(e.contains("not a proxy score"), "{oracle}: {e}");
        }
    }

    #[test]
    fn bad_files_are_named_errors() {
        let e = ScoreFile::parse("index,p\n1,2\n", Path::new("x.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.csv") && e.contains("no `arch` (or `arch_str`) column"),
            "{e}"
        );
        let e = ScoreFile::parse("arch,p\na,1,2\n", Path::new("x.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.csv:2") && e.contains("3 fields"), "{e}");
        let f = ScoreFile::parse("arch,p\nnot-an-arch,1\n", Path::new("x.csv")).unwrap();
        let e = f
            .ranked_archs(&Nb201Space::new(), "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.csv:2") && e.contains("not-an-arch"), "{e}");
    }

    #[test]
    fn warm_proposes_the_best_first_then_hands_over_without_repeats() {
        let space = Nb201Space::new();
        let f = file();
        let pool = Arc::new(f.ranked_archs(&space, "p").unwrap());
        let inner = EvolutionConfig {
            population: 5,
            sample_size: 2,
        }
        .init()
        .unwrap();
        let mut w: Warm<Nb201Space, _> = Warm::new(inner, pool.clone(), 2);
        assert_eq!(Strategy::<Nb201Space>::name(&w), "evolution+warm");
        let mut history = History::new(vec![Objective::maximize("acc")]);
        let mut rng = Rng::new(3);
        run_queries(
            &space,
            &mut w,
            &Ops,
            &mut history,
            30,
            &Budget::default(),
            &mut rng,
        );
        assert_eq!(history.len(), 30);
        assert_eq!(history.trials()[0].arch, pool[0]);
        assert_eq!(history.trials()[1].arch, pool[1]);
        assert_eq!(w.proposed(), 2);
        // The inner evolution saw the warm results: its population holds 5 of the trials.
        assert_eq!(w.inner().population().count(), 5);
        let mut seen = std::collections::HashSet::new();
        assert!(history.trials().iter().all(|t| seen.insert(t.arch)));

        // Restored from the history, it proposes no more warm candidates.
        let inner = EvolutionConfig::default().init().unwrap();
        let mut w2: Warm<Nb201Space, _> = Warm::new(inner, pool, 2);
        w2.restore(&space, &history, &mut rng);
        assert_eq!(w2.proposed(), 2);
    }
}

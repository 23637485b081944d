//! The NAS-Bench-201 tables: accuracies (`nb201.csv`) and device latencies
//! (`nb201_latency_ms.csv`), both with one row per cell in the benchmark's index order.
//!
//! Loading checks everything it reads and names the file and line of any problem: a missing
//! file or column, a malformed row, an unknown op in an arch string, a row out of index order,
//! a wrong number of rows.

use nascent_core::{Error, Result, SearchSpace};
use nascent_space::nb201::NB201_SIZE;
use nascent_space::{Nb201Arch, Nb201Shape, Nb201Space};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

/// The three data sets of NAS-Bench-201.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// CIFAR-10 (the search signal is the validation split of the train set, `cifar10-valid`).
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120 (ImageNet downsampled to 16x16, 120 classes).
    ImageNet16,
}

impl Dataset {
    /// All three, in the benchmark's order.
    pub const ALL: [Dataset; 3] = [Dataset::Cifar10, Dataset::Cifar100, Dataset::ImageNet16];

    /// The name the CLI takes (`cifar10`, `cifar100`, `imagenet16`).
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10",
            Dataset::Cifar100 => "cifar100",
            Dataset::ImageNet16 => "imagenet16",
        }
    }

    /// The name papers print.
    pub fn title(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "CIFAR-10",
            Dataset::Cifar100 => "CIFAR-100",
            Dataset::ImageNet16 => "ImageNet16-120",
        }
    }

    /// The column of the search signal: validation accuracy after the 12-epoch schedule.
    pub fn signal_column(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10valid_val_12ep",
            Dataset::Cifar100 => "cifar100_val_12ep",
            Dataset::ImageNet16 => "imagenet16_val_12ep",
        }
    }

    /// The column of the reported result: test accuracy after the 200-epoch schedule.
    pub fn test_column(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10_test_200ep",
            Dataset::Cifar100 => "cifar100_test_200ep",
            Dataset::ImageNet16 => "imagenet16_test_200ep",
        }
    }

    /// The shape of the benchmark's network on this data set (for parameters and FLOPs).
    pub fn shape(self) -> Nb201Shape {
        let (resolution, classes) = match self {
            Dataset::Cifar10 => (32, 10),
            Dataset::Cifar100 => (32, 100),
            Dataset::ImageNet16 => (16, 120),
        };
        Nb201Shape {
            resolution,
            classes,
            ..Nb201Shape::default()
        }
    }

    fn position(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Ok(match key.as_str() {
            "cifar10" | "cifar10valid" => Dataset::Cifar10,
            "cifar100" => Dataset::Cifar100,
            "imagenet16" | "imagenet16120" | "imagenet" => Dataset::ImageNet16,
            _ => {
                return Err(Error::unknown(
                    "dataset",
                    s,
                    &["cifar10", "cifar100", "imagenet16"],
                ));
            }
        })
    }
}

/// One cell of the accuracy table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nb201Row {
    /// The cell.
    pub arch: Nb201Arch,
    /// Test accuracy (%) after 200 epochs, by [`Dataset`] (mean over seeds).
    pub test_200ep: [f64; 3],
    /// Validation accuracy (%) after 12 epochs, by [`Dataset`]: the search signal.
    pub val_12ep: [f64; 3],
}

impl Nb201Row {
    /// The search signal on `dataset`.
    pub fn signal(&self, dataset: Dataset) -> f64 {
        self.val_12ep[dataset.position()]
    }

    /// The 200-epoch test accuracy on `dataset`.
    pub fn test(&self, dataset: Dataset) -> f64 {
        self.test_200ep[dataset.position()]
    }
}

/// The NAS-Bench-201 accuracy table, indexed by the benchmark's own cell index.
#[derive(Clone, Debug)]
pub struct Nb201Table {
    path: PathBuf,
    rows: Vec<Nb201Row>,
}

/// What is known about a CSV file being read: its path (for errors) and its header.
#[derive(Debug)]
struct Meta {
    path: PathBuf,
    columns: HashMap<String, usize>,
    header: Vec<String>,
}

/// A CSV file being read.
struct Csv {
    reader: csv::Reader<Box<dyn Read>>,
    meta: Meta,
}

impl Csv {
    fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_reader(Box::new(std::io::BufReader::new(file)), path)
    }

    fn from_reader(reader: Box<dyn Read>, path: &Path) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(Error::data(path, Some(1), "empty file: no header line"));
        }
        let columns = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        Ok(Csv {
            reader,
            meta: Meta {
                path: path.to_path_buf(),
                columns,
                header,
            },
        })
    }

    /// Calls `f(meta, row position, line, record)` for every data row; returns the row count.
    fn each(
        &mut self,
        mut f: impl FnMut(&Meta, usize, usize, &csv::StringRecord) -> Result<()>,
    ) -> Result<usize> {
        let mut record = csv::StringRecord::new();
        let mut n = 0;
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(n),
                Ok(true) => {}
                Err(e) => return Err(csv_error(&self.meta.path, &e)),
            }
            let line = record.position().map_or(n + 2, |p| p.line() as usize);
            if record.len() != self.meta.header.len() {
                return Err(Error::data(
                    &self.meta.path,
                    Some(line),
                    format!(
                        "malformed row: {} fields, the header has {}",
                        record.len(),
                        self.meta.header.len()
                    ),
                ));
            }
            f(&self.meta, n, line, &record)?;
            n += 1;
        }
    }
}

impl Meta {
    fn column(&self, name: &str) -> Result<usize> {
        self.columns.get(name).copied().ok_or_else(|| {
            Error::data(
                &self.path,
                Some(1),
                format!(
                    "missing column `{name}` in the header (found: {})",
                    self.header.join(", ")
                ),
            )
        })
    }

    fn number(&self, record: &csv::StringRecord, col: usize, line: usize) -> Result<f64> {
        let raw = record.get(col).unwrap_or("").trim();
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(Error::data(
                &self.path,
                Some(line),
                format!(
                    "malformed row: `{}` is `{raw}`, not a number",
                    self.header[col]
                ),
            )),
        }
    }

    /// Checks the `index` and `arch_str` fields of row `n`: the index is `n` and the arch
    /// string is the cell the benchmark puts there.
    fn cell(
        &self,
        space: &Nb201Space,
        record: &csv::StringRecord,
        cols: (usize, usize),
        n: usize,
        line: usize,
    ) -> Result<Nb201Arch> {
        let raw_index = record.get(cols.0).unwrap_or("").trim();
        let index: usize = raw_index.parse().map_err(|_| {
            Error::data(
                &self.path,
                Some(line),
                format!("malformed row: `index` is `{raw_index}`, not a whole number"),
            )
        })?;
        let text = record.get(cols.1).unwrap_or("").trim();
        let arch: Nb201Arch = text
            .parse()
            .map_err(|e: Error| Error::data(&self.path, Some(line), e.to_string()))?;
        if n >= NB201_SIZE {
            return Err(Error::data(
                &self.path,
                Some(line),
                format!(
                    "wrong row count: more than {NB201_SIZE} data rows, NAS-Bench-201 has {NB201_SIZE}"
                ),
            ));
        }
        if index != n {
            return Err(Error::data(
                &self.path,
                Some(line),
                format!(
                    "rows out of order: expected index {n}, found {index} (rows must follow the \
                     NAS-Bench-201 index order)"
                ),
            ));
        }
        match space.from_index(n as u64) {
            Some(expected) if expected == arch => Ok(arch),
            expected => Err(Error::data(
                &self.path,
                Some(line),
                format!(
                    "row {n} holds `{arch}`, but NAS-Bench-201 index {n} is `{}` (rows must \
                     follow the NAS-Bench-201 index order)",
                    expected.map(|e| e.to_string()).unwrap_or_default()
                ),
            )),
        }
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "malformed row: not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => format!("malformed CSV: {e}"),
    };
    Error::data(path, line, reason)
}

fn check_count(path: &Path, n: usize) -> Result<()> {
    if n != NB201_SIZE {
        return Err(Error::data(
            path,
            Some(n + 1),
            format!(
                "wrong row count: {n} data rows, NAS-Bench-201 has {NB201_SIZE} (one per cell, in \
                 index order)"
            ),
        ));
    }
    Ok(())
}

impl Nb201Table {
    /// Reads `nb201.csv`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::read(Csv::open(path.as_ref())?)
    }

    /// Reads the table from any reader; `path` names it in errors.
    pub fn from_reader(reader: impl Read + 'static, path: impl AsRef<Path>) -> Result<Self> {
        Self::read(Csv::from_reader(Box::new(reader), path.as_ref())?)
    }

    fn read(mut csv: Csv) -> Result<Self> {
        let m = &csv.meta;
        let cols = (m.column("index")?, m.column("arch_str")?);
        let mut test = [0usize; 3];
        let mut val = [0usize; 3];
        for d in Dataset::ALL {
            test[d.position()] = m.column(d.test_column())?;
            val[d.position()] = m.column(d.signal_column())?;
        }
        let space = Nb201Space::new();
        let mut rows = Vec::with_capacity(NB201_SIZE);
        let n = csv.each(|m, n, line, record| {
            let arch = m.cell(&space, record, cols, n, line)?;
            let mut row = Nb201Row {
                arch,
                test_200ep: [0.0; 3],
                val_12ep: [0.0; 3],
            };
            for d in 0..3 {
                row.test_200ep[d] = m.number(record, test[d], line)?;
                row.val_12ep[d] = m.number(record, val[d], line)?;
            }
            rows.push(row);
            Ok(())
        })?;
        check_count(&csv.meta.path, n)?;
        Ok(Nb201Table {
            path: csv.meta.path,
            rows,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All rows, in index order.
    pub fn rows(&self) -> &[Nb201Row] {
        &self.rows
    }

    /// The row of a cell.
    pub fn row(&self, arch: &Nb201Arch) -> &Nb201Row {
        &self.rows[nb201_index(arch)]
    }

    /// The `k` cells with the best 200-epoch test accuracy on `dataset`, best first (ties in
    /// index order): the transfer prior, a warm-start population for a study on other data
    /// (with [`nascent_strategy::Warm`]).
    pub fn top_cells(&self, dataset: Dataset, k: usize) -> Vec<Nb201Arch> {
        let mut idx: Vec<usize> = (0..self.rows.len()).collect();
        idx.sort_by(|&a, &b| {
            self.rows[b]
                .test(dataset)
                .total_cmp(&self.rows[a].test(dataset))
                .then(a.cmp(&b))
        });
        idx.into_iter().take(k).map(|i| self.rows[i].arch).collect()
    }
}

/// The benchmark index of a cell.
pub fn nb201_index(arch: &Nb201Arch) -> usize {
    static SPACE: OnceLock<Nb201Space> = OnceLock::new();
    SPACE
        .get_or_init(Nb201Space::new)
        .index(arch)
        .map_or(0, |i| i as usize)
}

/// A device column of the latency table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Device(usize);

/// Measured inference latency (ms) of every cell on many devices (`nb201_latency_ms.csv`).
#[derive(Clone, Debug)]
pub struct LatencyTable {
    path: PathBuf,
    devices: Vec<String>,
    /// Row-major: `values[row * devices + device]`.
    values: Vec<f64>,
}

impl LatencyTable {
    /// Reads `nb201_latency_ms.csv`: columns `index`, `arch_str`, then one per device.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::read(Csv::open(path.as_ref())?)
    }

    /// Reads the table from any reader; `path` names it in errors.
    pub fn from_reader(reader: impl Read + 'static, path: impl AsRef<Path>) -> Result<Self> {
        Self::read(Csv::from_reader(Box::new(reader), path.as_ref())?)
    }

    fn read(mut csv: Csv) -> Result<Self> {
        let m = &csv.meta;
        let cols = (m.column("index")?, m.column("arch_str")?);
        let device_cols: Vec<usize> = (0..m.header.len())
            .filter(|&c| c != cols.0 && c != cols.1)
            .collect();
        if device_cols.is_empty() {
            return Err(Error::data(
                &m.path,
                Some(1),
                "no device columns after `index` and `arch_str`",
            ));
        }
        let devices: Vec<String> = device_cols.iter().map(|&c| m.header[c].clone()).collect();
        let space = Nb201Space::new();
        let mut values = Vec::with_capacity(NB201_SIZE * devices.len());
        let n = csv.each(|m, n, line, record| {
            m.cell(&space, record, cols, n, line)?;
            for &c in &device_cols {
                values.push(m.number(record, c, line)?);
            }
            Ok(())
        })?;
        check_count(&csv.meta.path, n)?;
        Ok(LatencyTable {
            path: csv.meta.path,
            devices,
            values,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The device names, in column order.
    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// The device called `name`; the error lists the known ones.
    pub fn device(&self, name: &str) -> Result<Device> {
        self.devices
            .iter()
            .position(|d| d == name.trim())
            .map(Device)
            .ok_or_else(|| {
                let known: Vec<&str> = self.devices.iter().map(String::as_str).collect();
                Error::unknown("device", name, &known)
            })
    }

    /// The name of a device.
    pub fn device_name(&self, device: Device) -> &str {
        &self.devices[device.0]
    }

    /// The latency (ms) of a cell on a device.
    pub fn latency(&self, arch: &Nb201Arch, device: Device) -> f64 {
        self.values[nb201_index(arch) * self.devices.len() + device.0]
    }
}

//! Datasets: reading real data files, the seeded train/validation split, normalisation,
//! augmentation and the prefetching batch loader.
//!
//! Every format is read into one in-memory [`Dataset`]: samples laid out `[n, c, h, w]` (8-bit
//! pixels, or 32-bit floats for tables, which are `features x 1 x 1` "images") and labels. The
//! readers check what they read: a bad magic number, a truncated file, a label out of range or
//! an image of the wrong size is a [`nascent_core::Error::Data`] naming the file, never a panic.
//!
//! * [`idx`]: MNIST and Fashion-MNIST IDX files, gzipped or not;
//! * [`cifar`]: CIFAR-10 and CIFAR-100 binary batches;
//! * [`folder`]: image folders `root/[train|test/]<class>/*.png|jpg` and `.tar.gz` archives of them;
//! * [`table`]: CSV tables of numeric features with a label column;
//! * [`resolve`]: where a named dataset is found (explicit path, `$NASCENT_DATA`, the user cache,
//!   Debian's package, the download from the dataset's home with SHA-256 checks);
//! * [`augment`] and [`loader`]: augmentation and batches for training.

pub mod augment;
pub mod cifar;
pub mod folder;
pub mod idx;
#[cfg(feature = "torch")]
pub mod loader;
pub mod resolve;
pub mod table;
pub mod trivial;

pub use augment::Augment;
#[cfg(feature = "torch")]
pub use loader::{Batch, Loader, LoaderConfig};
pub use resolve::{KnownDataset, resolve_dataset};

use nascent_core::{Error, Result, Rng};
use std::path::{Path, PathBuf};

/// The values of a dataset's samples, `[n, c, h, w]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    /// 8-bit pixels (0..=255, scaled to `[0, 1]` when batched).
    U8(Vec<u8>),
    /// Floating-point features (table columns), used as they are.
    F32(Vec<f32>),
}

impl Samples {
    fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }
}

/// A labelled set of samples held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    shape: [usize; 3],
    samples: Samples,
    labels: Vec<i64>,
    class_names: Vec<String>,
}

impl Dataset {
    /// A dataset of samples of `shape` (`[c, h, w]`), their `labels` (each in
    /// `0..class_names.len()`), and the names of the classes. `origin` names the file or folder
    /// the data came from, for the error when the sizes disagree or a label is out of range.
    pub fn new(
        origin: &Path,
        shape: [usize; 3],
        samples: Samples,
        labels: Vec<i64>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        // Checked: the shape comes from a file's header, and may claim anything.
        let per = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                Error::data(
                    origin,
                    None,
                    format!("samples of shape {shape:?} would hold more values than fit in memory"),
                )
            })?;
        if per == 0 {
            return Err(Error::data(
                origin,
                None,
                format!("samples of shape {shape:?} hold no values"),
            ));
        }
        let want = per.checked_mul(labels.len());
        if want != Some(samples.len()) {
            return Err(Error::data(
                origin,
                None,
                format!(
                    "{} labels need {} values of shape {:?}, found {}",
                    labels.len(),
                    want.map_or_else(|| "more".to_string(), |w| w.to_string()),
                    shape,
                    samples.len()
                ),
            ));
        }
        if class_names.is_empty() {
            return Err(Error::data(origin, None, "no classes"));
        }
        let k = class_names.len() as i64;
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| !(0..k).contains(*l))
        {
            return Err(Error::data(
                origin,
                None,
                format!("label {l} of sample {i} is out of range 0..{k}"),
            ));
        }
        Ok(Dataset {
            shape,
            samples,
            labels,
            class_names,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of one sample, `[c, h, w]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Reads each sample as `shape` (`[c, h, w]`, the same number of values in another
    /// arrangement): a table whose rows are images (label plus 784 pixels) becomes images of
    /// `[1, 28, 28]`. An error, naming `origin`, when the numbers of values differ.
    pub fn reshape(&mut self, origin: &Path, shape: [usize; 3]) -> Result<()> {
        let per: Option<usize> = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if per != Some(self.sample_len()) {
            return Err(Error::data(
                origin,
                None,
                format!(
                    "samples of {} values cannot be read as shape {}x{}x{} ({} values)",
                    self.sample_len(),
                    shape[0],
                    shape[1],
                    shape[2],
                    per.map_or_else(|| "too many".to_string(), |p| p.to_string())
                ),
            ));
        }
        self.shape = shape;
        Ok(())
    }

    /// Values in one sample.
    pub fn sample_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// The class names, in label order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The labels, in sample order.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The sample values.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// Whether the samples are 8-bit images (as opposed to table features).
    pub fn is_image(&self) -> bool {
        matches!(self.samples, Samples::U8(_))
    }

    /// Writes sample `i` as floats (pixels scaled to `[0, 1]`) into `out` (`sample_len` long).
    pub fn write_sample(&self, i: usize, out: &mut [f32]) {
        let n = self.sample_len();
        match &self.samples {
            Samples::U8(v) => {
                for (o, &p) in out.iter_mut().zip(&v[i * n..(i + 1) * n]) {
                    *o = p as f32 * (1.0 / 255.0);
                }
            }
            Samples::F32(v) => out.copy_from_slice(&v[i * n..(i + 1) * n]),
        }
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.sample_len();
        let samples = match &self.samples {
            Samples::U8(v) => Samples::U8(
                indices
                    .iter()
                    .flat_map(|&i| v[i * n..(i + 1) * n].iter().copied())
                    .collect(),
            ),
            Samples::F32(v) => Samples::F32(
                indices
                    .iter()
                    .flat_map(|&i| v[i * n..(i + 1) * n].iter().copied())
                    .collect(),
            ),
        };
        Dataset {
            shape: self.shape,
            samples,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }

    /// A seeded random `fraction` (in `(0, 1]`) of the samples, at least one.
    pub fn fraction(&self, fraction: f64, seed: u64) -> Dataset {
        if fraction >= 1.0 || self.is_empty() {
            return self.clone();
        }
        let k = ((self.len() as f64 * fraction).round() as usize).clamp(1, self.len());
        let mut idx = Rng::new(seed).sample_indices(self.len(), k);
        idx.sort_unstable();
        self.subset(&idx)
    }

    /// The first `n` samples of each class (for quick experiments and tests).
    pub fn take_per_class(&self, n: usize) -> Dataset {
        let mut counts = vec![0usize; self.classes()];
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| {
                let c = &mut counts[self.labels[i] as usize];
                *c += 1;
                *c <= n
            })
            .collect();
        self.subset(&idx)
    }

    /// Per-channel mean and standard deviation of the values (pixels scaled to `[0, 1]`).
    pub fn channel_stats(&self) -> Normalization {
        let [c, h, w] = self.shape;
        let plane = h * w;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for i in 0..self.len() {
            for ch in 0..c {
                let start = i * c * plane + ch * plane;
                let (s, q) = match &self.samples {
                    Samples::U8(v) => v[start..start + plane].iter().fold((0f64, 0f64), |a, &p| {
                        let x = p as f64 / 255.0;
                        (a.0 + x, a.1 + x * x)
                    }),
                    Samples::F32(v) => {
                        v[start..start + plane].iter().fold((0f64, 0f64), |a, &p| {
                            let x = p as f64;
                            (a.0 + x, a.1 + x * x)
                        })
                    }
                };
                sum[ch] += s;
                sq[ch] += q;
            }
        }
        let count = (self.len() * plane).max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let std = sq
            .iter()
            .zip(&sum)
            .map(|(q, s)| {
                let m = s / count;
                let var = (q / count - m * m).max(0.0);
                // A constant channel (or feature) is left unscaled rather than divided by zero.
                if var > 1e-12 { var.sqrt() as f32 } else { 1.0 }
            })
            .collect();
        Normalization { mean, std }
    }
}

/// Per-channel normalisation `(x - mean) / std`.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (never zero).
    pub std: Vec<f32>,
}

impl Normalization {
    /// The identity (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Self {
        Normalization {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }
}

/// A dataset as its files provide it: a training set and, where the format has one, a test set.
#[derive(Clone, Debug)]
pub struct LoadedData {
    /// Where it came from.
    pub origin: PathBuf,
    /// The training set (the validation split is taken from it).
    pub train: Dataset,
    /// The test set, if the data has one.
    pub test: Option<Dataset>,
}

/// Training, validation and (optional) test sets, with the normalisation computed on the
/// training set.
#[derive(Clone, Debug)]
pub struct DataSplits {
    /// Where the data came from.
    pub origin: PathBuf,
    /// Used to fit the weights.
    pub train: Dataset,
    /// Held out from the training files, for model selection (may be empty).
    pub val: Dataset,
    /// The data's own test set.
    pub test: Option<Dataset>,
    /// Normalisation of every split, fitted on `train`.
    pub norm: Normalization,
}

impl DataSplits {
    /// Splits `data.train` into training and validation sets: a seeded random `val_fraction`
    /// (in `[0, 1)`) of each class goes to validation (stratified, so small subsets keep every
    /// class).
    pub fn split(data: LoadedData, val_fraction: f64, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(Error::config(
                "val_fraction",
                format!("must be in [0, 1), got {val_fraction}"),
            ));
        }
        let train_all = data.train;
        let mut rng = Rng::new(seed);
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); train_all.classes()];
        for (i, &l) in train_all.labels().iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let mut tr = Vec::new();
        let mut va = Vec::new();
        for mut idx in by_class {
            rng.shuffle(&mut idx);
            let k = (idx.len() as f64 * val_fraction).round() as usize;
            va.extend_from_slice(&idx[..k]);
            tr.extend_from_slice(&idx[k..]);
        }
        tr.sort_unstable();
        va.sort_unstable();
        if tr.is_empty() {
            return Err(Error::data(&data.origin, None, "no training samples"));
        }
        let train = train_all.subset(&tr);
        let val = train_all.subset(&va);
        let norm = train.channel_stats();
        if let Some(t) = &data.test
            && (t.shape() != train.shape() || t.classes() != train.classes())
        {
            return Err(Error::data(
                &data.origin,
                None,
                format!(
                    "the test set (shape {:?}, {} classes) does not match the training set \
                     (shape {:?}, {} classes)",
                    t.shape(),
                    t.classes(),
                    train.shape(),
                    train.classes()
                ),
            ));
        }
        Ok(DataSplits {
            origin: data.origin,
            train,
            val,
            test: data.test,
            norm,
        })
    }

    /// The shape of a sample, `[c, h, w]`.
    pub fn shape(&self) -> [usize; 3] {
        self.train.shape()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.train.classes()
    }
}

/// The formats nascent reads, each with where its files are.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// A folder of IDX files (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
    /// `t10k-...`), MNIST-style.
    Idx(PathBuf),
    /// A folder of CIFAR binary batches.
    Cifar(PathBuf, cifar::CifarKind),
    /// A folder `root/[train|test/]<class>/*.png|jpg`.
    ImageFolder(PathBuf),
    /// A `.tar.gz` (or `.tgz`, `.tar`) archive of such a folder.
    ImageArchive(PathBuf),
    /// A CSV table; the label is the column so named (`None`: the column `label`, else the last).
    Csv {
        /// The file.
        path: PathBuf,
        /// The label column.
        label: Option<String>,
    },
}

impl DataSource {
    /// Works out the format of `path` from what is there.
    pub fn detect(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if meta.is_file() {
            if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar") {
                return Ok(DataSource::ImageArchive(path.to_path_buf()));
            }
            if name.ends_with(".csv") {
                return Ok(DataSource::Csv {
                    path: path.to_path_buf(),
                    label: None,
                });
            }
            return Err(Error::data(
                path,
                None,
                "not a dataset nascent reads: expected a folder (IDX files, CIFAR batches or \
                 class folders), a .tar.gz of class folders, or a .csv table",
            ));
        }
        if idx::find_split_files(path, "train").is_some() {
            return Ok(DataSource::Idx(path.to_path_buf()));
        }
        if let Some(kind) = cifar::detect(path) {
            return Ok(DataSource::Cifar(path.to_path_buf(), kind));
        }
        if folder::looks_like_folder(path) {
            return Ok(DataSource::ImageFolder(path.to_path_buf()));
        }
        Err(Error::data(
            path,
            None,
            "found no dataset in this folder: expected IDX files (train-images-idx3-ubyte[.gz] \
             ...), CIFAR binary batches (data_batch_1.bin ... or train.bin), or class folders \
             of .png/.jpg images",
        ))
    }

    /// Reads the data.
    pub fn load(&self) -> Result<LoadedData> {
        match self {
            DataSource::Idx(dir) => idx::load_dir(dir, None),
            DataSource::Cifar(dir, kind) => cifar::load_dir(dir, *kind),
            DataSource::ImageFolder(dir) => {
                folder::load_dir(dir, &folder::FolderOptions::default())
            }
            DataSource::ImageArchive(path) => {
                folder::load_archive(path, &folder::FolderOptions::default())
            }
            DataSource::Csv { path, label } => table::load_csv(path, label.as_deref()),
        }
    }
}

/// What the user names as data: a known dataset (found by [`resolve`]) or a path.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// A dataset nascent knows by name, with an optional explicit location.
    Known(KnownDataset, Option<PathBuf>),
    /// A file or folder in any format [`DataSource::detect`] recognises.
    Path(PathBuf),
}

impl DataSpec {
    /// A known dataset's name (`fashion-mnist`, `mnist`, `cifar10`), else a path.
    pub fn parse(s: &str) -> Self {
        match KnownDataset::parse(s) {
            Some(k) => DataSpec::Known(k, None),
            None => DataSpec::Path(PathBuf::from(s)),
        }
    }

    /// Finds and reads the data.
    pub fn load(&self) -> Result<LoadedData> {
        match self {
            DataSpec::Known(k, explicit) => {
                let path = resolve_dataset(*k, explicit.as_deref())?;
                log::info!("{} from {}", k.name(), path.display());
                k.load(&path)
            }
            DataSpec::Path(p) => DataSource::detect(p)?.load(),
        }
    }

    /// The default training augmentation: the dataset's standard recipe for a known dataset;
    /// for other images, random crops with padding of an eighth of the side, plus flips for
    /// colour images; none for tables.
    pub fn default_augment(&self, data: &LoadedData) -> Augment {
        match self {
            DataSpec::Known(k, _) => k.augment(),
            DataSpec::Path(_) if data.train.is_image() => {
                let [c, h, _] = data.train.shape();
                Augment {
                    crop_padding: h / 8,
                    hflip: c == 3,
                    cutout: 0,
                    trivial: false,
                }
            }
            DataSpec::Path(_) => Augment::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, classes: usize) -> Dataset {
        let px: Vec<u8> = (0..n * 4).map(|i| (i % 256) as u8).collect();
        let labels = (0..n).map(|i| (i % classes) as i64).collect();
        let names = (0..classes).map(|c| c.to_string()).collect();
        Dataset::new(Path::new("toy"), [1, 2, 2], Samples::U8(px), labels, names).unwrap()
    }

    #[test]
    fn sizes_and_labels_are_checked() {
        let e = Dataset::new(
            Path::new("x.bin"),
            [1, 2, 2],
            Samples::U8(vec![0; 7]),
            vec![0, 1],
            vec!["a".into(), "b".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.bin"), "{e}");
        let e = Dataset::new(
            Path::new("y.bin"),
            [1, 1, 1],
            Samples::U8(vec![0; 2]),
            vec![0, 2],
            vec!["a".into(), "b".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("label 2 of sample 1"), "{e}");
    }

    #[test]
    fn split_is_seeded_stratified_and_disjoint() {
        let d = toy(100, 4);
        let load = || LoadedData {
            origin: "toy".into(),
            train: d.clone(),
            test: None,
        };
        let a = DataSplits::split(load(), 0.2, 1).unwrap();
        let b = DataSplits::split(load(), 0.2, 1).unwrap();
        let c = DataSplits::split(load(), 0.2, 2).unwrap();
        assert_eq!(a.train, b.train);
        assert_ne!(a.val, c.val);
        assert_eq!(a.val.len(), 20);
        assert_eq!(a.train.len(), 80);
        for k in 0..4 {
            assert_eq!(a.val.labels().iter().filter(|&&l| l == k).count(), 5);
        }
        assert!(DataSplits::split(load(), 1.0, 1).is_err());
    }

    #[test]
    fn channel_stats_match_a_direct_computation() {
        let d = toy(10, 2);
        let n = d.channel_stats();
        let Samples::U8(v) = d.samples() else {
            unreachable!()
        };
        let xs: Vec<f64> = v.iter().map(|&p| p as f64 / 255.0).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let s = (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!((n.mean[0] as f64 - m).abs() < 1e-6);
        assert!((n.std[0] as f64 - s).abs() < 1e-6);
    }

    #[test]
    fn fraction_and_take_per_class() {
        let d = toy(100, 4);
        assert_eq!(d.fraction(0.25, 3).len(), 25);
        assert_eq!(d.fraction(0.25, 3), d.fraction(0.25, 3));
        let t = d.take_per_class(2);
        assert_eq!(t.len(), 8);
    }
}

//! CIFAR-10 and CIFAR-100 in their binary version (`cifar-10-batches-bin`,
//! `cifar-100-binary`).
//!
//! CIFAR-10: `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin`, records of one
//! label byte and 3,072 pixel bytes (red, green, blue planes of 32x32); class names in
//! `batches.meta.txt`. CIFAR-100: `train.bin` and `test.bin`, records of a coarse and a fine
//! label byte then the pixels; nascent uses the fine label (100 classes), names in
//! `fine_label_names.txt`.

use super::{Dataset, LoadedData, Samples};
use nascent_core::{Error, Result};
use std::path::{Path, PathBuf};

/// Which CIFAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarKind {
    /// 10 classes.
    Cifar10,
    /// 100 (fine) classes.
    Cifar100,
}

impl CifarKind {
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }

    fn classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }
}

const PIXELS: usize = 3 * 32 * 32;

/// The kind of CIFAR binary batches in `dir`, if any.
pub fn detect(dir: &Path) -> Option<CifarKind> {
    if dir.join("data_batch_1.bin").is_file() {
        Some(CifarKind::Cifar10)
    } else if dir.join("train.bin").is_file() {
        Some(CifarKind::Cifar100)
    } else {
        None
    }
}

/// Parses the records of one batch file.
pub fn parse_batch(path: &Path, bytes: &[u8], kind: CifarKind) -> Result<(Vec<u8>, Vec<i64>)> {
    let rec = kind.label_bytes() + PIXELS;
    if bytes.is_empty() || !bytes.len().is_multiple_of(rec) {
        return Err(Error::data(
            path,
            None,
            format!(
                "size {} bytes is not a whole number of {rec}-byte records (truncated or not \
                 a {:?} binary batch)",
                bytes.len(),
                kind
            ),
        ));
    }
    let n = bytes.len() / rec;
    let mut px = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let l = r[kind.label_bytes() - 1] as usize;
        if l >= kind.classes() {
            return Err(Error::data(
                path,
                None,
                format!(
                    "label {l} of record {i} is out of range 0..{}",
                    kind.classes()
                ),
            ));
        }
        labels.push(l as i64);
        px.extend_from_slice(&r[kind.label_bytes()..]);
    }
    Ok((px, labels))
}

fn read_batches(dir: &Path, files: &[&str], kind: CifarKind, names: &[String]) -> Result<Dataset> {
    let mut batches = Vec::new();
    for f in files {
        let path = dir.join(f);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        batches.push((path, bytes));
    }
    batches_dataset(dir, &batches, kind, names)
}

/// The dataset of the batch files `batches` (`(path, bytes)`, read from `dir`), with the
/// class names `names`.
pub fn batches_dataset(
    dir: &Path,
    batches: &[(PathBuf, Vec<u8>)],
    kind: CifarKind,
    names: &[String],
) -> Result<Dataset> {
    let mut px = Vec::new();
    let mut labels = Vec::new();
    for (path, bytes) in batches {
        let (p, l) = parse_batch(path, bytes, kind)?;
        px.extend(p);
        labels.extend(l);
    }
    Dataset::new(dir, [3, 32, 32], Samples::U8(px), labels, names.to_vec())
}

fn class_names(dir: &Path, file: &str, k: usize) -> Vec<String> {
    parse_class_names(
        &std::fs::read_to_string(dir.join(file)).unwrap_or_default(),
        k,
    )
}

/// The `k` class names listed one per line in `text` (blank lines skipped), or `0`, `1`, ...
/// when it does not list exactly `k`.
pub fn parse_class_names(text: &str, k: usize) -> Vec<String> {
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() == k {
        names
    } else {
        (0..k).map(|c| c.to_string()).collect()
    }
}

/// Reads a folder of CIFAR binary batches.
pub fn load_dir(dir: &Path, kind: CifarKind) -> Result<LoadedData> {
    let (train_files, test_file, names_file): (&[&str], &str, &str) = match kind {
        CifarKind::Cifar10 => (
            &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            "test_batch.bin",
            "batches.meta.txt",
        ),
        CifarKind::Cifar100 => (&["train.bin"], "test.bin", "fine_label_names.txt"),
    };
    let names = class_names(dir, names_file, kind.classes());
    let train = read_batches(dir, train_files, kind, &names)?;
    let test = if dir.join(test_file).is_file() {
        Some(read_batches(dir, &[test_file], kind, &names)?)
    } else {
        None
    };
    Ok(LoadedData {
        origin: dir.to_path_buf(),
        train,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_checked() {
        let p = Path::new("data_batch_1.bin");
        let mut one = vec![3u8];
        one.extend(std::iter::repeat_n(7u8, PIXELS));
        let (px, l) = parse_batch(p, &one, CifarKind::Cifar10).unwrap();
        assert_eq!((px.len(), l), (PIXELS, vec![3]));
        let e = parse_batch(p, &one[..100], CifarKind::Cifar10).unwrap_err();
        assert!(e.to_string().contains("data_batch_1.bin"), "{e}");
        one[0] = 10;
        let e = parse_batch(p, &one, CifarKind::Cifar10).unwrap_err();
        assert!(e.to_string().contains("label 10"), "{e}");
        let mut two = vec![1u8, 99];
        two.extend(std::iter::repeat_n(0u8, PIXELS));
        let (_, l) = parse_batch(p, &two, CifarKind::Cifar100).unwrap();
        assert_eq!(l, vec![99]);
    }
}

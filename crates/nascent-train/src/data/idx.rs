//! IDX files (the format of MNIST and Fashion-MNIST), gzipped or not.
//!
//! An IDX file is a big-endian header, `0x00 0x00 <type> <ndims>` then one `u32` per
//! dimension, followed by the values. nascent reads unsigned-byte files (`type = 0x08`), the
//! only type these datasets use.

use super::{Dataset, LoadedData, Samples};
use nascent_core::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// An IDX array of bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads a whole file, decompressing it when it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_maybe_gz(path, raw)
}

/// The bytes of a file read from `path` (named in errors), decompressed when they start with
/// the gzip magic bytes.
pub fn decode_maybe_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, None, format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes read from `path` (named in errors).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(Error::data(
            path,
            None,
            format!("truncated IDX header: {} bytes", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::data(
            path,
            None,
            format!(
                "bad IDX magic number {:02x}{:02x}{:02x}{:02x} (expected 0000 then type and \
                 rank; is this an IDX file?)",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(Error::data(
            path,
            None,
            format!(
                "IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                bytes[2]
            ),
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err(Error::data(path, None, "IDX rank 0"));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(Error::data(
            path,
            None,
            format!(
                "truncated IDX header: rank {rank} needs {header} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let want = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::data(path, None, format!("IDX dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have != want {
        let what = if have < want {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(Error::data(
            path,
            None,
            format!("{what}: dimensions {dims:?} need {want} data bytes, file has {have}"),
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads an IDX file (gzipped or not).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    parse_idx(path, &read_maybe_gz(path)?)
}

/// The image and label files of `split` (`train` or `t10k`/`test`) in `dir`, if both exist:
/// `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]` (also with a `.`
/// before `idx`).
pub fn find_split_files(dir: &Path, split: &str) -> Option<(PathBuf, PathBuf)> {
    let find = |kind: &str, rank: &str| {
        [
            format!("{split}-{kind}-{rank}-ubyte"),
            format!("{split}-{kind}.{rank}-ubyte"),
        ]
        .into_iter()
        .flat_map(|b| [format!("{b}.gz"), b])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
    };
    Some((find("images", "idx3")?, find("labels", "idx1")?))
}

/// Reads a pair of image (`[n, h, w]` or `[n, c, h, w]`) and label (`[n]`) files; labels must
/// lie in `0..classes` (`None`: `classes` is the largest label plus one).
pub fn load_pair(images: &Path, labels: &Path, classes: Option<usize>) -> Result<Dataset> {
    pair_dataset(
        images,
        read_idx(images)?,
        labels,
        read_idx(labels)?,
        classes,
    )
}

/// The dataset of a parsed pair of image (`im`, read from `images`) and label (`lb`, read from
/// `labels`) arrays, checked as [`load_pair`] says.
pub fn pair_dataset(
    images: &Path,
    im: IdxArray,
    labels: &Path,
    lb: IdxArray,
    classes: Option<usize>,
) -> Result<Dataset> {
    let shape = match im.dims[..] {
        [_, h, w] => [1, h, w],
        [_, c, h, w] => [c, h, w],
        _ => {
            return Err(Error::data(
                images,
                None,
                format!("images must have 3 or 4 dimensions, found {:?}", im.dims),
            ));
        }
    };
    if lb.dims.len() != 1 {
        return Err(Error::data(
            labels,
            None,
            format!("labels must have 1 dimension, found {:?}", lb.dims),
        ));
    }
    if lb.dims[0] != im.dims[0] {
        return Err(Error::data(
            labels,
            None,
            format!(
                "{} labels for {} images in {}",
                lb.dims[0],
                im.dims[0],
                images.display()
            ),
        ));
    }
    let classes = match classes {
        Some(k) => k,
        None => lb.data.iter().copied().max().map_or(1, |m| m as usize + 1),
    };
    if let Some((i, &l)) = lb
        .data
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= classes)
    {
        return Err(Error::data(
            labels,
            None,
            format!("label {l} of sample {i} is out of range 0..{classes}"),
        ));
    }
    let names = (0..classes).map(|c| c.to_string()).collect();
    Dataset::new(
        images,
        shape,
        Samples::U8(im.data),
        lb.data.iter().map(|&l| l as i64).collect(),
        names,
    )
}

/// Reads a folder of IDX files: the `train` pair and, if present, the `t10k` (or `test`) pair.
/// `classes` fixes the number of classes (10 for MNIST); `None` infers it from the training
/// labels.
pub fn load_dir(dir: &Path, classes: Option<usize>) -> Result<LoadedData> {
    let (ti, tl) = find_split_files(dir, "train").ok_or_else(|| {
        Error::data(
            dir,
            None,
            "no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] here",
        )
    })?;
    let train = load_pair(&ti, &tl, classes)?;
    let test = match find_split_files(dir, "t10k").or_else(|| find_split_files(dir, "test")) {
        Some((i, l)) => Some(load_pair(&i, &l, Some(train.classes()))?),
        None => None,
    };
    Ok(LoadedData {
        origin: dir.to_path_buf(),
        train,
        test,
    })
}

/// The class names of Fashion-MNIST, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

/// Replaces the class names of `data` (train and test) with `names`.
pub fn name_classes(data: &mut LoadedData, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    if data.train.classes() == names.len() {
        data.train.class_names = names.clone();
    }
    if let Some(t) = &mut data.test
        && t.classes() == names.len()
    {
        t.class_names = names;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_and_checks() {
        let p = Path::new("f.idx");
        let a = parse_idx(p, &idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
        let e = parse_idx(p, &idx_bytes(&[2, 3], &[1, 2, 3])).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse_idx(p, &idx_bytes(&[1], &[1, 2])).unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");
        let e = parse_idx(p, b"\x89PNG\r\n").unwrap_err();
        assert!(e.to_string().contains("magic"), "{e}");
        let e = parse_idx(p, &[0, 0, 8, 3, 0]).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = parse_idx(p, &[0, 0, 0x0d, 1, 0, 0, 0, 0]).unwrap_err();
        assert!(e.to_string().contains("type"), "{e}");
        let e = parse_idx(p, &idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[])).unwrap_err();
        assert!(e.to_string().contains("f.idx"), "{e}");
    }

    /// Issue 9 (found reviewing what the fuzz target `idx` reaches): no images but huge image
    /// sides parse (0 values), and the size of one image overflowed (a panic in debug builds,
    /// a wrong size in release ones). Now an error naming the file.
    #[test]
    fn issue9_idx_huge_dims() {
        let (ip, lp) = (Path::new("images.idx"), Path::new("labels.idx"));
        let labels = parse_idx(lp, &idx_bytes(&[0], &[])).unwrap();
        let images = parse_idx(ip, &idx_bytes(&[0, 1 << 20, 1 << 20, 1 << 24], &[])).unwrap();
        let e = pair_dataset(ip, images, lp, labels, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("images.idx") && e.contains("more values than fit"),
            "{e}"
        );
    }
}

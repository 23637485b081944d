//! Image folders, plain or in a `.tar.gz` archive.
//!
//! The layout is `root/<class>/<image>` (training images only) or
//! `root/train/<class>/<image>` with `root/test/<class>/<image>` beside it (`training`,
//! `testing`, `val`, `valid` and `validation` are accepted too; the held-out folder becomes the
//! test set). Images are PNG or JPEG, decoded with the `image` crate on all cores; every image
//! must have the size of the first. The data has one channel when every image is grayscale,
//! else three (RGB). Classes are the sorted folder names. Other files (a README) are skipped.

use super::{Dataset, LoadedData, Samples};
use image::DynamicImage;
use nascent_core::{Error, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// How much of a folder to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// Read at most this many images of each class and split (the first in path order).
    pub max_per_class: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Split {
    Train,
    Test,
}

fn split_of(name: &str) -> Option<Split> {
    match name.to_ascii_lowercase().as_str() {
        "train" | "training" => Some(Split::Train),
        "test" | "testing" | "val" | "valid" | "validation" => Some(Split::Test),
        _ => None,
    }
}

fn is_image(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".png") || n.ends_with(".jpg") || n.ends_with(".jpeg")
}

/// One image file before decoding.
struct Entry {
    split: Split,
    class: String,
    /// Where it is, for errors.
    name: String,
    bytes: Vec<u8>,
}

/// Where `components` (`[.., split?, class, file]`) puts an image, if it is one.
fn place(components: &[String]) -> Option<(Split, String)> {
    let n = components.len();
    if n < 2 || !is_image(&components[n - 1]) {
        return None;
    }
    let class = components[n - 2].clone();
    if n >= 3
        && let Some(s) = split_of(&components[n - 3])
    {
        return Some((s, class));
    }
    // `root/<class>/<file>`: training data, unless the class folder is itself a split name.
    if split_of(&class).is_some() {
        return None;
    }
    Some((Split::Train, class))
}

/// Whether `dir` looks like an image folder (a class folder of images, possibly under `train`).
pub fn looks_like_folder(dir: &Path) -> bool {
    let subdirs = |d: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let has_images = |d: &Path| {
        std::fs::read_dir(d)
            .map(|mut it| {
                it.any(|e| {
                    e.map(|e| is_image(&e.file_name().to_string_lossy()))
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    subdirs(dir).iter().any(|s| {
        has_images(s)
            || (s
                .file_name()
                .and_then(|n| split_of(&n.to_string_lossy()))
                .is_some()
                && subdirs(s).iter().any(|c| has_images(c)))
    })
}

/// Reads an image folder.
pub fn load_dir(dir: &Path, opts: &FolderOptions) -> Result<LoadedData> {
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries, 0)?;
    finish(dir, entries, opts)
}

fn walk(root: &Path, d: &Path, out: &mut Vec<Entry>, depth: usize) -> Result<()> {
    if depth > 3 {
        return Ok(());
    }
    let rd = std::fs::read_dir(d).map_err(|e| Error::io(d, e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(d, e))?;
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out, depth + 1)?;
        } else {
            let rel = normal_components(p.strip_prefix(root).unwrap_or(&p));
            if let Some((split, class)) = place(&rel) {
                let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                out.push(Entry {
                    split,
                    class,
                    name: p.display().to_string(),
                    bytes,
                });
            }
        }
    }
    Ok(())
}

/// Reads an image folder held in memory: its files as `(path relative to the folder, bytes)`,
/// laid out as on disk (`<class>/<image>` or `train/<class>/<image>`, ...; other files are
/// skipped). `origin` names the folder in errors.
pub fn load_files(
    origin: &Path,
    files: Vec<(PathBuf, Vec<u8>)>,
    opts: &FolderOptions,
) -> Result<LoadedData> {
    let entries = files
        .into_iter()
        .filter_map(|(rel, bytes)| {
            let (split, class) = place(&normal_components(&rel))?;
            Some(Entry {
                split,
                class,
                name: origin.join(&rel).display().to_string(),
                bytes,
            })
        })
        .collect();
    finish(origin, entries, opts)
}

/// The normal components of a relative path (no `.`, `..` or root), as text.
fn normal_components(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// Reads a `.tar.gz` (or `.tgz`, or plain `.tar`) archive of an image folder.
pub fn load_archive(path: &Path, opts: &FolderOptions) -> Result<LoadedData> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 2];
    let gz = {
        let mut f = &file;
        f.read_exact(&mut head).is_ok() && head == [0x1f, 0x8b]
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_archive(path, std::io::BufReader::new(file), gz, opts)
}

/// Reads a tar archive of an image folder from `reader` (gzipped when `gz`); `path` names it
/// in errors.
pub fn read_archive(
    path: &Path,
    reader: impl Read,
    gz: bool,
    opts: &FolderOptions,
) -> Result<LoadedData> {
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let bad = |what: &str, e: std::io::Error| {
        Error::data(
            path,
            None,
            format!(
                "{what}: {e} (truncated or not a tar{} archive?)",
                if gz { ".gz" } else { "" }
            ),
        )
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    for e in archive
        .entries()
        .map_err(|e| bad("cannot read the archive", e))?
    {
        let mut e = e.map_err(|e| bad("cannot read an archive entry", e))?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e
            .path()
            .map_err(|e| bad("bad path in the archive", e))?
            .into_owned();
        if let Some((split, class)) = place(&normal_components(&p)) {
            // The header's size may claim anything (up to 2^64 bytes): reserve at most 1 MiB
            // ahead, the rest grows with what is really there.
            let mut bytes = Vec::with_capacity(e.size().min(1 << 20) as usize);
            e.read_to_end(&mut bytes)
                .map_err(|err| bad(&format!("cannot read {}", p.display()), err))?;
            entries.push(Entry {
                split,
                class,
                name: format!("{}:{}", path.display(), p.display()),
                bytes,
            });
        }
    }
    finish(path, entries, opts)
}

fn decode_all(entries: &[Entry]) -> Vec<std::result::Result<DynamicImage, String>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(entries.len().max(1));
    let chunk = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|e| image::load_from_memory(&e.bytes).map_err(|err| err.to_string()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn finish(origin: &Path, mut entries: Vec<Entry>, opts: &FolderOptions) -> Result<LoadedData> {
    entries.sort_by(|a, b| (a.split, &a.class, &a.name).cmp(&(b.split, &b.class, &b.name)));
    if let Some(k) = opts.max_per_class {
        let mut seen: BTreeMap<(Split, String), usize> = BTreeMap::new();
        entries.retain(|e| {
            let c = seen.entry((e.split, e.class.clone())).or_insert(0);
            *c += 1;
            *c <= k
        });
    }
    let classes: Vec<String> = {
        let mut c: Vec<String> = entries
            .iter()
            .filter(|e| e.split == Split::Train)
            .map(|e| e.class.clone())
            .collect();
        c.dedup();
        c
    };
    if classes.is_empty() {
        return Err(Error::data(
            origin,
            None,
            "no training images (.png/.jpg) in class folders (root/<class>/ or \
             root/train/<class>/)",
        ));
    }
    let index: BTreeMap<&str, i64> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as i64))
        .collect();
    let decoded = decode_all(&entries);
    if decoded.len() != entries.len() {
        return Err(Error::Other(format!(
            "{}: an image decoding thread failed",
            origin.display()
        )));
    }
    let mut images = Vec::with_capacity(entries.len());
    for (e, d) in entries.iter().zip(decoded) {
        let img =
            d.map_err(|err| Error::data(&e.name, None, format!("cannot decode the image: {err}")))?;
        images.push(img);
    }
    let (w, h) = (images[0].width() as usize, images[0].height() as usize);
    let color = images.iter().any(|i| i.color().has_color());
    let c = if color { 3 } else { 1 };
    let mut parts: [(Vec<u8>, Vec<i64>); 2] = Default::default();
    for (e, img) in entries.iter().zip(images) {
        if (img.width() as usize, img.height() as usize) != (w, h) {
            return Err(Error::data(
                &e.name,
                None,
                format!(
                    "image is {}x{}, the dataset's first image is {w}x{h}; all images must \
                     have one size",
                    img.width(),
                    img.height()
                ),
            ));
        }
        let label = *index.get(e.class.as_str()).ok_or_else(|| {
            Error::data(
                &e.name,
                None,
                format!(
                    "class `{}` of the held-out images has no training images (classes: {})",
                    e.class,
                    classes.join(", ")
                ),
            )
        })?;
        let part = &mut parts[(e.split == Split::Test) as usize];
        if color {
            let rgb = img.to_rgb8();
            let raw = rgb.as_raw();
            // HWC -> CHW.
            for ch in 0..3 {
                part.0.extend(raw.iter().skip(ch).step_by(3));
            }
        } else {
            part.0.extend_from_slice(img.to_luma8().as_raw());
        }
        part.1.push(label);
    }
    let [(tr_px, tr_l), (te_px, te_l)] = parts;
    let train = Dataset::new(origin, [c, h, w], Samples::U8(tr_px), tr_l, classes.clone())?;
    let test = if te_l.is_empty() {
        None
    } else {
        Some(Dataset::new(
            origin,
            [c, h, w],
            Samples::U8(te_px),
            te_l,
            classes,
        )?)
    };
    Ok(LoadedData {
        origin: origin.to_path_buf(),
        train,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn places_images_by_their_path() {
        assert_eq!(
            place(&s(&["train", "cat", "1.png"])),
            Some((Split::Train, "cat".into()))
        );
        assert_eq!(
            place(&s(&["data", "test", "dog", "1.JPG"])),
            Some((Split::Test, "dog".into()))
        );
        assert_eq!(
            place(&s(&["cat", "1.jpeg"])),
            Some((Split::Train, "cat".into()))
        );
        assert_eq!(place(&s(&["README.md"])), None);
        assert_eq!(place(&s(&["train", "notes.txt"])), None);
        assert_eq!(place(&s(&["train", "1.png"])), None);
    }

    /// Issue 9 (fuzz target `tar_archive`, input from a crafted header): an entry whose header
    /// claims 2^62 bytes (GNU base-256 size) or 8 GiB made nascent reserve that much memory
    /// up front, an abort. Now the archive is read as far as it goes: an error naming it.
    #[test]
    fn issue9_tar_huge_entry_size() {
        for size in [1u64 << 62, 0o77777777777] {
            let mut h = tar::Header::new_gnu();
            h.set_path("a/0.png").unwrap();
            h.set_size(size);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            let mut bytes = h.as_bytes().to_vec();
            bytes.extend_from_slice(b"\x89PNG");
            bytes.resize(512 * 4, 0);
            let p = Path::new("huge.tar");
            let e = read_archive(p, &bytes[..], false, &FolderOptions::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("huge.tar"), "{e}");
        }
    }
}

//! Finding a named dataset.
//!
//! `fashion-mnist` (the default), `mnist` and `cifar10` are looked for, in this order:
//!
//! 1. an explicit path given by the user;
//! 2. `$NASCENT_DATA/<folder>` (or `$NASCENT_DATA` itself), where `<folder>` is
//!    `fashion-mnist`, `mnist` or `cifar10-jpg`: the layout of the project's shared data;
//! 3. the user cache, `$XDG_CACHE_HOME/nascent/data/<folder>` (default `~/.cache/...`);
//! 4. for Fashion-MNIST, Debian's package `dataset-fashion-mnist`
//!    (`/usr/share/datasets/fashion-mnist`);
//! 5. the download of the original files from the dataset's home into the user cache, each file
//!    checked against its published SHA-256 before it is used (MNIST and Fashion-MNIST).
//!
//! When none works the error lists every place tried and why each failed.

use super::LoadedData;
use super::idx;
use nascent_core::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A dataset nascent knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KnownDataset {
    /// Fashion-MNIST (Zalando): 28x28 grayscale, 10 classes, 60,000 + 10,000 images.
    FashionMnist,
    /// MNIST digits: 28x28 grayscale, 10 classes, 60,000 + 10,000 images.
    Mnist,
    /// CIFAR-10: 32x32 RGB, 10 classes, 50,000 + 10,000 images (as JPEG image folders in a
    /// `.tar.gz`, or the binary batches).
    Cifar10,
}

/// A file to download and its SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name (also its name in the cache).
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the file as published.
    pub sha256: &'static str,
}

const FASHION_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    },
];

const MNIST_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
];

impl KnownDataset {
    /// Every known dataset.
    pub const ALL: [KnownDataset; 3] = [
        KnownDataset::FashionMnist,
        KnownDataset::Mnist,
        KnownDataset::Cifar10,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KnownDataset::FashionMnist => "fashion-mnist",
            KnownDataset::Mnist => "mnist",
            KnownDataset::Cifar10 => "cifar10",
        }
    }

    /// The dataset of a name (`fashion-mnist`, `fashion_mnist`, `mnist`, `cifar10`,
    /// `cifar-10`), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "fashion-mnist" | "fashionmnist" => Some(KnownDataset::FashionMnist),
            "mnist" => Some(KnownDataset::Mnist),
            "cifar10" | "cifar-10" => Some(KnownDataset::Cifar10),
            _ => None,
        }
    }

    /// The folder it lives in under `$NASCENT_DATA` and the cache.
    pub fn folder(self) -> &'static str {
        match self {
            KnownDataset::FashionMnist => "fashion-mnist",
            KnownDataset::Mnist => "mnist",
            KnownDataset::Cifar10 => "cifar10-jpg",
        }
    }

    /// Where Debian's package puts it, if Debian has one.
    pub fn debian_dir(self) -> Option<&'static Path> {
        match self {
            KnownDataset::FashionMnist => Some(Path::new("/usr/share/datasets/fashion-mnist")),
            _ => None,
        }
    }

    /// The base addresses of the original files (tried in order) and the files, if the dataset
    /// can be downloaded.
    pub fn remote(self) -> Option<(&'static [&'static str], &'static [RemoteFile])> {
        match self {
            KnownDataset::FashionMnist => Some((
                &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
                &FASHION_FILES,
            )),
            KnownDataset::Mnist => Some((
                &[
                    "https://yann.lecun.com/exdb/mnist/",
                    "https://ossci-datasets.s3.amazonaws.com/mnist/",
                ],
                &MNIST_FILES,
            )),
            KnownDataset::Cifar10 => None,
        }
    }

    /// The standard training augmentation for this dataset.
    pub fn augment(self) -> super::Augment {
        match self {
            KnownDataset::FashionMnist => super::Augment {
                crop_padding: 2,
                hflip: true,
                cutout: 0,
                trivial: false,
            },
            // Digits are not mirror-symmetric.
            KnownDataset::Mnist => super::Augment {
                crop_padding: 2,
                hflip: false,
                cutout: 0,
                trivial: false,
            },
            KnownDataset::Cifar10 => super::Augment::cifar(),
        }
    }

    /// The dataset's files at `path`, if they are there: the folder (IDX) or archive to read.
    pub fn find_at(self, path: &Path) -> Option<PathBuf> {
        match self {
            KnownDataset::FashionMnist | KnownDataset::Mnist => {
                (idx::find_split_files(path, "train").is_some()
                    && idx::find_split_files(path, "t10k").is_some())
                .then(|| path.to_path_buf())
            }
            KnownDataset::Cifar10 => {
                if path.is_file() {
                    return Some(path.to_path_buf());
                }
                [
                    "cifar10-jpg.tar.gz",
                    "cifar10.tar.gz",
                    "cifar-10-batches-bin",
                ]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.exists())
                .or_else(|| {
                    (super::cifar::detect(path).is_some() || super::folder::looks_like_folder(path))
                        .then(|| path.to_path_buf())
                })
            }
        }
    }

    /// Reads the dataset from what [`KnownDataset::find_at`] found.
    pub fn load(self, path: &Path) -> Result<LoadedData> {
        match self {
            KnownDataset::FashionMnist => {
                let mut d = idx::load_dir(path, Some(10))?;
                idx::name_classes(&mut d, &idx::FASHION_MNIST_CLASSES);
                Ok(d)
            }
            KnownDataset::Mnist => idx::load_dir(path, Some(10)),
            KnownDataset::Cifar10 => {
                let d = super::DataSource::detect(path)?.load()?;
                if d.train.classes() != 10 || d.train.shape() != [3, 32, 32] {
                    return Err(Error::data(
                        path,
                        None,
                        format!(
                            "not CIFAR-10: {} classes of shape {:?} (expected 10 of [3, 32, 32])",
                            d.train.classes(),
                            d.train.shape()
                        ),
                    ));
                }
                Ok(d)
            }
        }
    }
}

/// Where the resolution looks, so that tests (and users) can change each place.
#[derive(Clone, Debug)]
pub struct Resolver {
    /// `$NASCENT_DATA`.
    pub env_dir: Option<PathBuf>,
    /// The user cache root (`.../nascent/data`).
    pub cache_dir: Option<PathBuf>,
    /// Whether to look at Debian's package folder.
    pub debian: bool,
    /// Base addresses to download from instead of the dataset's own (tests); `None` uses the
    /// dataset's home.
    pub mirrors: Option<Vec<String>>,
    /// Whether to download at all.
    pub download: bool,
}

impl Resolver {
    /// The resolver of the running process: `$NASCENT_DATA`, `$XDG_CACHE_HOME` or `$HOME`,
    /// Debian's folder, download on (`NASCENT_NO_DOWNLOAD=1` turns it off).
    pub fn from_env() -> Self {
        let cache_dir = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("nascent").join("data"));
        Resolver {
            env_dir: std::env::var_os("NASCENT_DATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cache_dir,
            debian: true,
            mirrors: None,
            download: std::env::var("NASCENT_NO_DOWNLOAD")
                .map_or(true, |v| v.is_empty() || v == "0"),
        }
    }

    /// Finds `ds`, trying the places of the module documentation in order.
    pub fn resolve(&self, ds: KnownDataset, explicit: Option<&Path>) -> Result<PathBuf> {
        let mut tried: Vec<String> = Vec::new();
        if let Some(p) = explicit {
            if let Some(found) = ds.find_at(p) {
                return Ok(found);
            }
            // An explicit path that does not hold the data is the user's mistake: say so
            // rather than quietly using another copy.
            return Err(Error::data(
                p,
                None,
                format!("no {} files here ({})", ds.name(), expected_files(ds)),
            ));
        }
        match &self.env_dir {
            Some(env) => {
                for p in [env.join(ds.folder()), env.clone()] {
                    if let Some(found) = ds.find_at(&p) {
                        return Ok(found);
                    }
                }
                tried.push(format!(
                    "$NASCENT_DATA: not in {} nor {}",
                    env.join(ds.folder()).display(),
                    env.display()
                ));
            }
            None => tried.push("$NASCENT_DATA: not set".into()),
        }
        let cache = self.cache_dir.as_ref().map(|c| c.join(ds.folder()));
        match &cache {
            Some(c) => {
                if let Some(found) = ds.find_at(c) {
                    return Ok(found);
                }
                tried.push(format!("user cache: not in {}", c.display()));
            }
            None => tried.push("user cache: no $XDG_CACHE_HOME or $HOME".into()),
        }
        if let Some(deb) = ds.debian_dir()
            && self.debian
        {
            if let Some(found) = ds.find_at(deb) {
                return Ok(found);
            }
            tried.push(format!(
                "Debian package dataset-{}: not in {} (apt-get install dataset-{})",
                ds.folder(),
                deb.display(),
                ds.folder()
            ));
        }
        match (ds.remote(), &cache) {
            (Some((homes, files)), Some(c)) if self.download => {
                let bases: Vec<String> = match &self.mirrors {
                    Some(m) => m.clone(),
                    None => homes.iter().map(|s| s.to_string()).collect(),
                };
                match download_all(&bases, files, c) {
                    Ok(()) => {
                        if let Some(found) = ds.find_at(c) {
                            return Ok(found);
                        }
                        tried.push(format!(
                            "download: the files are in {} but incomplete",
                            c.display()
                        ));
                    }
                    Err(e) => tried.push(format!("download: {e}")),
                }
            }
            (Some(_), _) if !self.download => {
                tried.push("download: turned off (NASCENT_NO_DOWNLOAD)".into())
            }
            (Some(_), None) => tried.push("download: no cache folder to download to".into()),
            _ => tried.push(format!(
                "download: {} has no download with published checksums; put it in one of the \
                 places above",
                ds.name()
            )),
        }
        Err(Error::Other(format!(
            "cannot find dataset {} ({}); tried:\n  - {}",
            ds.name(),
            expected_files(ds),
            tried.join("\n  - ")
        )))
    }
}

fn expected_files(ds: KnownDataset) -> &'static str {
    match ds {
        KnownDataset::FashionMnist | KnownDataset::Mnist => {
            "expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
             t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
        }
        KnownDataset::Cifar10 => {
            "expected cifar10-jpg.tar.gz (train/<class>/*.jpg and test/<class>/*.jpg), an \
             unpacked copy of it, or cifar-10-batches-bin"
        }
    }
}

/// Finds `ds` with [`Resolver::from_env`].
pub fn resolve_dataset(ds: KnownDataset, explicit: Option<&Path>) -> Result<PathBuf> {
    Resolver::from_env().resolve(ds, explicit)
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads every file of `files` that `dir` does not already hold with the right checksum,
/// from the first of `bases` that serves it, checking each against its SHA-256.
pub fn download_all(bases: &[String], files: &[RemoteFile], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for f in files {
        let dest = dir.join(f.name);
        if dest.is_file() && sha256_file(&dest)? == f.sha256 {
            continue;
        }
        let mut errors = Vec::new();
        let mut ok = false;
        for base in bases {
            let url = format!("{}{}", base, f.name);
            log::info!("downloading {url}");
            match download_checked(&url, f.sha256, &dest) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        if !ok {
            return Err(Error::Other(errors.join("; ")));
        }
    }
    Ok(())
}

/// Downloads `url` to `dest` (through a temporary file beside it), checking its SHA-256; the
/// file is only put in place when the checksum matches.
pub fn download_checked(url: &str, sha256: &str, dest: &Path) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(1800)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| Error::Other(format!("cannot download: {e}")))?;
    let tmp = dest.with_extension("part");
    let mut out = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut h = Sha256::new();
    let mut reader = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    let result = (|| -> Result<()> {
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::Other(format!("download broke off: {e}")))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
        }
        out.flush().map_err(|e| Error::io(&tmp, e))?;
        let got = hex(&h.finalize());
        if got != sha256 {
            return Err(Error::Other(format!(
                "SHA-256 mismatch: expected {sha256}, got {got} (corrupt or changed file)"
            )));
        }
        std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        for d in KnownDataset::ALL {
            assert_eq!(KnownDataset::parse(d.name()), Some(d));
        }
        assert_eq!(
            KnownDataset::parse("Fashion_MNIST"),
            Some(KnownDataset::FashionMnist)
        );
        assert_eq!(KnownDataset::parse("imagenet"), None);
    }
}

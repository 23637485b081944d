//! Reading the images a search or a proxy run needs, at most a number per class.

use nascent_core::Result;
use nascent_train::data::folder::{self, FolderOptions};
use nascent_train::data::{DataSource, DataSpec, LoadedData};

/// Reads `spec` (a known dataset's name or a path in any format `nascent-train` reads);
/// with `per_class`, only the first `per_class` images of each class of each split are
/// kept (image folders and archives then decode only those).
pub fn load_images(spec: &str, per_class: Option<usize>) -> Result<LoadedData> {
    let spec = DataSpec::parse(spec);
    let data = match (&spec, per_class) {
        (DataSpec::Path(p), Some(n)) => match DataSource::detect(p)? {
            DataSource::ImageFolder(dir) => folder::load_dir(
                &dir,
                &FolderOptions {
                    max_per_class: Some(n),
                },
            )?,
            DataSource::ImageArchive(path) => folder::load_archive(
                &path,
                &FolderOptions {
                    max_per_class: Some(n),
                },
            )?,
            other => other.load()?,
        },
        _ => spec.load()?,
    };
    Ok(match per_class {
        Some(n) => LoadedData {
            train: data.train.take_per_class(n),
            test: data.test.map(|t| t.take_per_class(n)),
            origin: data.origin,
        },
        None => data,
    })
}

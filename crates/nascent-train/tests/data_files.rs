//! Reading real dataset files, and clear errors (never panics) for corrupt or truncated ones.

mod common;

use common::shared;
use flate2::Compression;
use flate2::write::GzEncoder;
use nascent_train::data::folder::{FolderOptions, load_archive, load_dir};
use nascent_train::data::{DataSource, DataSplits, KnownDataset, Samples, cifar, idx, table};
use std::io::Write;
use std::path::Path;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// Writes a small valid MNIST-style folder (gzipped) and returns its path.
fn write_idx_dir(dir: &Path, n: u32, label: u8) {
    let px: Vec<u8> = (0..n * 16).map(|i| i as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i as u8) % 10).collect();
    let mut labels = labels;
    labels[0] = label;
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gz(&idx_bytes(&[n, 4, 4], &px)),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gz(&idx_bytes(&[n], &labels)),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        idx_bytes(&[2, 4, 4], &px[..32]),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_bytes(&[2], &[1, 2])).unwrap();
}

#[test]
fn fashion_mnist_reads_with_its_sizes_and_classes() {
    let Some(dir) = shared("fashion-mnist") else {
        return;
    };
    assert_eq!(
        DataSource::detect(&dir).unwrap(),
        DataSource::Idx(dir.clone())
    );
    let d = KnownDataset::FashionMnist.load(&dir).unwrap();
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.train.shape(), [1, 28, 28]);
    assert_eq!(d.train.classes(), 10);
    assert_eq!(d.train.class_names()[9], "ankle boot");
    let test = d.test.as_ref().unwrap();
    assert_eq!(test.len(), 10_000);
    // Fashion-MNIST is balanced: 6,000 and 1,000 images a class.
    for k in 0..10 {
        assert_eq!(d.train.labels().iter().filter(|&&l| l == k).count(), 6_000);
        assert_eq!(test.labels().iter().filter(|&&l| l == k).count(), 1_000);
    }
    // The published mean pixel of the training set is 0.2860.
    let norm = d.train.channel_stats();
    assert!((norm.mean[0] - 0.2860).abs() < 1e-3, "{:?}", norm);
    assert!((norm.std[0] - 0.3530).abs() < 1e-3, "{:?}", norm);
    let s = DataSplits::split(d, 0.1, 0).unwrap();
    assert_eq!((s.train.len(), s.val.len()), (54_000, 6_000));
}

#[test]
fn mnist_reads() {
    let Some(dir) = shared("mnist") else {
        return;
    };
    let d = KnownDataset::Mnist.load(&dir).unwrap();
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.as_ref().unwrap().len(), 10_000);
    // The published mean pixel of MNIST's training set is 0.1307.
    assert!((d.train.channel_stats().mean[0] - 0.1307).abs() < 1e-3);
}

#[test]
fn cifar10_jpeg_archive_reads_train_and_test() {
    let Some(path) = shared("cifar10-jpg/cifar10-jpg.tar.gz") else {
        return;
    };
    let d = load_archive(
        &path,
        &FolderOptions {
            max_per_class: Some(20),
        },
    )
    .unwrap();
    assert_eq!(d.train.shape(), [3, 32, 32]);
    assert_eq!(d.train.classes(), 10);
    assert_eq!(d.train.len(), 200);
    assert_eq!(d.test.as_ref().unwrap().len(), 200);
    assert_eq!(d.train.class_names()[0], "airplane");
    assert_eq!(d.train.class_names()[9], "truck");
    // Real photographs: the channels differ and are far from constant.
    let n = d.train.channel_stats();
    assert!(n.std.iter().all(|s| *s > 0.15), "{n:?}");
    assert!(
        n.mean[2] < n.mean[0],
        "blue darker than red on average: {n:?}"
    );
}

#[test]
fn image_folders_on_disk_read_grayscale_and_color() {
    let t = tempfile::tempdir().unwrap();
    for (split, class, v) in [("train", "a", 10u8), ("train", "b", 200), ("test", "a", 12)] {
        let d = t.path().join(split).join(class);
        std::fs::create_dir_all(&d).unwrap();
        image::GrayImage::from_pixel(5, 5, image::Luma([v]))
            .save(d.join("x.png"))
            .unwrap();
    }
    assert_eq!(
        DataSource::detect(t.path()).unwrap(),
        DataSource::ImageFolder(t.path().to_path_buf())
    );
    let d = load_dir(t.path(), &FolderOptions::default()).unwrap();
    assert_eq!(d.train.shape(), [1, 5, 5]);
    assert_eq!(d.train.labels(), &[0, 1]);
    assert_eq!(d.test.as_ref().unwrap().labels(), &[0]);
    let Samples::U8(px) = d.train.samples() else {
        panic!("images are bytes")
    };
    assert_eq!(px[25], 200);
    // One color image makes the whole dataset RGB.
    image::RgbImage::from_pixel(5, 5, image::Rgb([255, 0, 0]))
        .save(t.path().join("train").join("b").join("y.png"))
        .unwrap();
    let d = load_dir(t.path(), &FolderOptions::default()).unwrap();
    assert_eq!(d.train.shape(), [3, 5, 5]);
    let Samples::U8(px) = d.train.samples() else {
        panic!()
    };
    // Second image of class b (y.png), CHW: red plane 255, green 0.
    let third = &px[2 * 75..3 * 75];
    assert!(third[..25].iter().all(|&p| p == 255) && third[25..50].iter().all(|&p| p == 0));
}

#[test]
fn csv_tables_read_with_named_or_last_label() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("iris.csv");
    std::fs::write(
        &p,
        "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n",
    )
    .unwrap();
    let d = DataSource::detect(&p).unwrap().load().unwrap();
    assert_eq!(d.train.shape(), [2, 1, 1]);
    assert_eq!(d.train.labels(), &[0, 1, 2, 0]);
    assert_eq!(d.train.class_names()[2], "virginica");
    let d = table::load_csv(&p, Some("sepal")).unwrap_err();
    assert!(d.to_string().contains("iris.csv:2"), "{d}");
    assert!(d.to_string().contains("`setosa` is not a number"), "{d}");
    std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
    let e = table::load_csv(&p, None).unwrap_err().to_string();
    assert!(e.contains("iris.csv"), "{e}");
    let e = table::load_csv(&p, Some("zzz")).unwrap_err().to_string();
    assert!(e.contains("no label column `zzz`"), "{e}");
}

#[test]
fn corrupt_idx_files_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    write_idx_dir(t.path(), 20, 3);
    let d = idx::load_dir(t.path(), Some(10)).unwrap();
    assert_eq!((d.train.len(), d.test.unwrap().len()), (20, 2));

    // Label out of range.
    write_idx_dir(t.path(), 20, 11);
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(
        e.contains("train-labels-idx1-ubyte.gz") && e.contains("label 11 of sample 0"),
        "{e}"
    );

    // Truncated gzip stream.
    write_idx_dir(t.path(), 20, 3);
    let f = t.path().join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );

    // Garbage after the gzip magic.
    std::fs::write(&f, [0x1f, 0x8b, 1, 2, 3, 4, 5]).unwrap();
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(e.contains("bad gzip data"), "{e}");

    // Bad magic (a PNG renamed).
    std::fs::write(&f, gz(b"\x89PNG\r\n\x1a\n0000000000000000")).unwrap();
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(e.contains("bad IDX magic"), "{e}");

    // Images and labels disagree in number.
    write_idx_dir(t.path(), 20, 3);
    std::fs::write(
        t.path().join("t10k-labels-idx1-ubyte"),
        idx_bytes(&[3], &[1, 2, 3]),
    )
    .unwrap();
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(e.contains("3 labels for 2 images"), "{e}");

    // Wrong sizes in a header.
    std::fs::write(
        t.path().join("t10k-images-idx3-ubyte"),
        idx_bytes(&[2, 28, 28], &[0; 32]),
    )
    .unwrap();
    let e = idx::load_dir(t.path(), Some(10)).unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn truncated_real_fashion_mnist_is_a_clear_error() {
    let Some(dir) = shared("fashion-mnist") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(dir.join(f), t.path().join(f)).unwrap();
    }
    let f = t.path().join("t10k-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 1000]).unwrap();
    let e = KnownDataset::FashionMnist
        .load(t.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("t10k-images-idx3-ubyte.gz"), "{e}");
    // The decompressed payload cut short (a valid gzip of a truncated file).
    let raw = idx::read_maybe_gz(&dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(&f, gz(&raw[..raw.len() - 784 / 2])).unwrap();
    let e = KnownDataset::FashionMnist
        .load(t.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated") && e.contains("7840000"), "{e}");
}

#[test]
fn corrupt_cifar_batches_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let rec = |l: u8| {
        let mut r = vec![l];
        r.extend(std::iter::repeat_n(9u8, 3072));
        r
    };
    for i in 1..=5 {
        std::fs::write(t.path().join(format!("data_batch_{i}.bin")), rec(1)).unwrap();
    }
    std::fs::write(t.path().join("test_batch.bin"), rec(2)).unwrap();
    let kind = cifar::detect(t.path()).unwrap();
    let d = cifar::load_dir(t.path(), kind).unwrap();
    assert_eq!(d.train.len(), 5);
    let mut short = rec(1);
    short.truncate(3000);
    std::fs::write(t.path().join("data_batch_3.bin"), short).unwrap();
    let e = cifar::load_dir(t.path(), kind).unwrap_err().to_string();
    assert!(
        e.contains("data_batch_3.bin") && e.contains("records"),
        "{e}"
    );
    std::fs::write(t.path().join("data_batch_3.bin"), rec(12)).unwrap();
    let e = cifar::load_dir(t.path(), kind).unwrap_err().to_string();
    assert!(
        e.contains("data_batch_3.bin") && e.contains("label 12"),
        "{e}"
    );
}

#[test]
fn corrupt_images_and_archives_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("train").join("cat");
    std::fs::create_dir_all(&d).unwrap();
    image::GrayImage::new(4, 4)
        .save(d.join("a_ok.png"))
        .unwrap();
    std::fs::write(d.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let e = load_dir(t.path(), &FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken.jpg") && e.contains("decode"), "{e}");
    std::fs::remove_file(d.join("broken.jpg")).unwrap();
    image::GrayImage::new(6, 6)
        .save(d.join("z_big.png"))
        .unwrap();
    let e = load_dir(t.path(), &FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("z_big.png") && e.contains("6x6") && e.contains("4x4"),
        "{e}"
    );

    // A truncated tar.gz of the real CIFAR-10 archive.
    if let Some(path) = shared("cifar10-jpg/cifar10-jpg.tar.gz") {
        let bytes = std::fs::read(&path).unwrap();
        let cut = t.path().join("cut.tar.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        let e = load_archive(&cut, &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut.tar.gz"), "{e}");
    }
    // Not an archive at all.
    let junk = t.path().join("junk.tar.gz");
    std::fs::write(&junk, gz(b"hello, this is not a tar file at all")).unwrap();
    let e = load_archive(&junk, &FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.tar.gz"), "{e}");
}

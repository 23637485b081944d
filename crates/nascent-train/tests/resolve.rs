//! Finding named datasets: explicit path, `$NASCENT_DATA`, the cache, the download (from a
//! local HTTP server standing in for the dataset's home), and the error listing every place.

mod common;

use common::shared;
use nascent_train::data::KnownDataset;
use nascent_train::data::resolve::{RemoteFile, Resolver, download_all, sha256_file};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

fn resolver(env: Option<&Path>, cache: &Path) -> Resolver {
    Resolver {
        env_dir: env.map(Path::to_path_buf),
        cache_dir: Some(cache.to_path_buf()),
        debian: false,
        mirrors: None,
        download: false,
    }
}

#[test]
fn explicit_env_and_cache_are_tried_in_order() {
    let Some(fm) = shared("fashion-mnist") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let ds = KnownDataset::FashionMnist;
    // $NASCENT_DATA laid out like the shared data folder.
    let env = fm.parent().unwrap();
    assert_eq!(resolver(Some(env), &cache).resolve(ds, None).unwrap(), fm);
    // $NASCENT_DATA pointing at the files themselves.
    assert_eq!(resolver(Some(&fm), &cache).resolve(ds, None).unwrap(), fm);
    // The cache.
    let c = cache.join("fashion-mnist");
    std::fs::create_dir_all(&c).unwrap();
    for f in std::fs::read_dir(&fm).unwrap() {
        let f = f.unwrap();
        std::os::unix::fs::symlink(f.path(), c.join(f.file_name())).unwrap();
    }
    assert_eq!(resolver(None, &cache).resolve(ds, None).unwrap(), c);
    // An explicit path wins, and a wrong one is an error naming it.
    assert_eq!(resolver(None, &cache).resolve(ds, Some(&fm)).unwrap(), fm);
    let e = resolver(None, &cache)
        .resolve(ds, Some(t.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&t.path().display().to_string()), "{e}");
}

#[test]
fn nothing_found_lists_every_place() {
    let t = tempfile::tempdir().unwrap();
    let r = Resolver {
        debian: true,
        ..resolver(Some(&t.path().join("nowhere")), &t.path().join("cache"))
    };
    let e = r
        .resolve(KnownDataset::Mnist, None)
        .unwrap_err()
        .to_string();
    for want in [
        "$NASCENT_DATA",
        "user cache",
        "download",
        "train-images-idx3-ubyte.gz",
    ] {
        assert!(e.contains(want), "missing {want}: {e}");
    }
    let e = r
        .resolve(KnownDataset::Cifar10, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cifar10-jpg.tar.gz"), "{e}");
    // Fashion-MNIST names Debian's package too (when it is not installed).
    if !Path::new("/usr/share/datasets/fashion-mnist").exists() {
        let e = r
            .resolve(KnownDataset::FashionMnist, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dataset-fashion-mnist"), "{e}");
    }
}

#[test]
fn debian_package_copy_is_found_when_installed() {
    let deb = Path::new("/usr/share/datasets/fashion-mnist");
    if !deb.exists() {
        eprintln!(
            "skipped: {} is missing (apt-get install dataset-fashion-mnist)",
            deb.display()
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let r = Resolver {
        debian: true,
        ..resolver(None, t.path())
    };
    assert_eq!(r.resolve(KnownDataset::FashionMnist, None).unwrap(), deb);
}

/// Serves `files` (name -> bytes) over HTTP on 127.0.0.1 for `requests` requests; returns
/// the base address.
fn serve(files: Vec<(String, Vec<u8>)>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().unwrap());
            r.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            match files.iter().find(|(n, _)| n == path) {
                Some((_, body)) => {
                    write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    s.write_all(body).unwrap();
                }
                None => {
                    write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .unwrap();
                }
            }
        }
    });
    format!("http://{addr}/")
}

#[test]
fn download_checks_sha256_before_using_a_file() {
    let Some(fm) = shared("fashion-mnist") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let files: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.to_string(), std::fs::read(fm.join(n)).unwrap()))
        .collect();
    let sums: Vec<String> = names
        .iter()
        .map(|n| sha256_file(&fm.join(n)).unwrap())
        .collect();
    let remote: Vec<RemoteFile> = names
        .iter()
        .zip(&sums)
        .map(|(n, s)| RemoteFile {
            name: n,
            sha256: Box::leak(s.clone().into_boxed_str()),
        })
        .collect();

    // A wrong checksum: nothing is kept, and the error says why.
    let base = serve(files.clone(), 1);
    let mut wrong = remote.clone();
    wrong[0].sha256 = "00";
    let dir = t.path().join("dl");
    let e = download_all(&[base], &wrong[..1], &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("SHA-256 mismatch"), "{e}");
    assert!(!dir.join(names[0]).exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no partial file left"
    );

    // A dead mirror first, then one that serves the files: all four arrive and are checked.
    let base = serve(files, 4);
    download_all(&["http://127.0.0.1:9/".to_string(), base], &remote, &dir).unwrap();
    for (n, s) in names.iter().zip(&sums) {
        assert_eq!(&sha256_file(&dir.join(n)).unwrap(), s);
    }
    // Already present and valid: no download (the server would refuse a fifth request).
    download_all(&["http://127.0.0.1:9/".to_string()], &remote, &dir).unwrap();
    let d = KnownDataset::FashionMnist.load(&dir).unwrap();
    assert_eq!(d.train.len(), 60_000);
}

#[test]
fn resolver_downloads_into_the_cache_and_checks_the_published_sums() {
    // The real Fashion-MNIST sums are those of the files as Zalando publishes them; the shared
    // copies were recompressed by Debian, so serving them must fail the check.
    let Some(fm) = shared("fashion-mnist") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = ["train-images-idx3-ubyte.gz"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(fm.join(n)).unwrap()))
        .collect();
    let base = serve(files, 1);
    let r = Resolver {
        env_dir: None,
        cache_dir: Some(t.path().to_path_buf()),
        debian: false,
        mirrors: Some(vec![base]),
        download: true,
    };
    let e = r
        .resolve(KnownDataset::FashionMnist, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SHA-256 mismatch") && e.contains("08dc20ab"),
        "{e}"
    );
}

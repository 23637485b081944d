//! Loads a generated report in a real browser (headless Chromium): the DOM after the page's
//! script ran holds the charts, diagrams and the sortable table, and a screenshot shows them.
//!
//! Skipped, with a message, when no Chromium is installed (a failure under CI) (Debian: `apt-get install chromium`;
//! or point `NASCENT_CHROMIUM` at a Chromium or Chrome binary).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NASCENT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs Chromium headless on `page` with `args`, in a fresh profile, and returns its stdout;
/// fails the test after 90 seconds.
fn run_chromium(bin: &Path, profile: &Path, page: &Path, args: &[&str]) -> String {
    let out_file = profile.with_extension("stdout");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{} exited with {status}", bin.display());
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within 90 s", bin.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&out_file).unwrap()
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        nascent_core::testing::skip(
            "no chromium on PATH (apt-get install chromium, or set NASCENT_CHROMIUM)",
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("nascent-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut report = match common::nb201_report(200, 11) {
        Some(r) => r,
        None => common::handmade_report(),
    };
    if report.best().is_some() {
        report.final_result = Some(common::final_result(&report, &dir));
    }
    let page = report.write(dir.join("report.html")).unwrap();
    let page = page.canonicalize().unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    let svg_count = html.matches("<svg").count();
    // Header cells of the sortable tables: the script marks each one.
    let th_count: usize = html
        .match_indices("class=\"sortable\"")
        .map(|(i, _)| {
            let head = &html[i..i + html[i..].find("</thead>").unwrap()];
            head.matches("<th>").count() + head.matches("<th ").count()
        })
        .sum();

    // The DOM after the script ran.
    let dom = run_chromium(&bin, &dir.join("profile-dom"), &page, &["--dump-dom"]);
    assert!(
        dom.contains("<html lang=\"en\" class=\"js\">"),
        "the script did not run"
    );
    assert!(dom.contains("id=\"trials-table\" class=\"sortable sort-ready\""));
    assert_eq!(dom.matches("<svg").count(), svg_count);
    assert!(th_count > 10);
    assert_eq!(dom.matches("aria-sort=\"none\"").count(), th_count);
    for id in [
        "summary", "final", "progress", "curves", "cells", "ops", "trials",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\"")),
            "section {id}"
        );
    }
    assert_eq!(
        dom.matches("<tr").count(),
        html.matches("<tr").count(),
        "table rows"
    );

    // A screenshot: not blank, and the charts' colours are on it.
    let shot = dir.join("report.png");
    run_chromium(
        &bin,
        &dir.join("profile-shot"),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2200",
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2200));
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 200,
        "{} colours: blank page?",
        distinct.len()
    );
    // Okabe-Ito blue (#0072B2), the first series' colour, and the dark header.
    let near = |p: &[u8], c: [u8; 3]| (0..3).all(|k| (p[k] as i32 - c[k] as i32).abs() <= 6);
    let blue = pixels
        .iter()
        .filter(|p| near(p, [0x00, 0x72, 0xB2]))
        .count();
    let header = pixels
        .iter()
        .filter(|p| near(p, [0x1d, 0x23, 0x29]))
        .count();
    assert!(blue > 500, "{blue} blue pixels: charts not drawn?");
    assert!(header > 20_000, "{header} header pixels");
    eprintln!(
        "screenshot {} ({} colours, {blue} chart-blue pixels)",
        shot.display(),
        distinct.len()
    );
    if std::env::var_os("NASCENT_KEEP_SCREENSHOT").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

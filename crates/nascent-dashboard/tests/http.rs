//! The dashboard over HTTP: pages and API over a real SQLite storage, escaping of names and
//! architectures, path traversal, missing studies and trials, pagination, read-only routes,
//! the loopback default, and live events.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use nascent_core::TrialState;
use nascent_core::storage::{Artefact, ArtefactKind, Storage};
use nascent_dashboard::testing::{SyntheticWorker, spec};
use nascent_dashboard::{DashboardOptions, router};
use nascent_space::Nb201Space;
use std::sync::Arc;
use tower::ServiceExt;

const EVIL: &str = "<script>alert(1)</script>";

struct Fixture {
    _dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    out: std::path::PathBuf,
    outside: std::path::PathBuf,
}

/// A storage with a study named `name` of `n` NB201 trials, a report artefact in `out/` and
/// a secret file next to `out/`.
fn fixture(name: &str, n: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let storage: Arc<dyn Storage> = nascent_store::open(&url).unwrap().into();
    let study = storage.create_study(&spec(name, "nb201")).unwrap();
    SyntheticWorker::new(&*storage, study.clone(), "w0", 1)
        .run(&Nb201Space::new(), n, 2)
        .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("export")).unwrap();
    std::fs::write(out.join("report.html"), "<html>report</html>").unwrap();
    std::fs::write(out.join("export/genotype.txt"), "genotype").unwrap();
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, "SECRET").unwrap();
    for (path, kind, trial) in [
        (out.join("report.html"), ArtefactKind::Report, None),
        (
            out.join("export/genotype.txt"),
            ArtefactKind::Export,
            Some(0),
        ),
        (outside.clone(), ArtefactKind::Other, Some(0)),
    ] {
        storage
            .add_artefact(&Artefact {
                study: study.id,
                trial,
                kind,
                path,
                created: 0.0,
            })
            .unwrap();
    }
    Fixture {
        _dir: dir,
        storage,
        out,
        outside,
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    request(app, "GET", uri).await
}

async fn request(
    app: &axum::Router,
    method: &str,
    uri: &str,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let r = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[tokio::test]
async fn pages_and_api_show_the_study() {
    let f = fixture("demo", 30);
    let app = router(f.storage.clone(), DashboardOptions::default());
    let (s, body, h) = get(&app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("href=\"/studies/demo\""), "{body}");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let (s, body, _) = get(&app, "/studies/demo").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("data-api=\"/api/studies/demo\""));
    // Settings as key/value rows, not raw JSON.
    assert!(
        body.contains("<th>strategy.kind</th><td>evolution</td>"),
        "{body}"
    );
    let (s, body, _) = get(&app, "/api/studies/demo").await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["counts"]["total"], 30);
    assert_eq!(v["counts"]["failed"], 3);
    assert_eq!(v["x_metric"], "params");
    let front = v["scatter"]["front"].as_array().unwrap();
    assert!(!front.is_empty());
    // The best trial is on the front, and best-so-far ends at its value.
    let best = v["best"]["values"][0].as_f64().unwrap();
    let last = v["best_so_far"]["trials"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()[1]
        .as_f64()
        .unwrap();
    assert_eq!(best, last);
    let on_front = front.iter().find(|p| p[2] == v["best"]["number"]).unwrap();
    assert!((on_front[1].as_f64().unwrap() - best).abs() < 1e-3 * best.abs());
    let (s, body, _) = get(&app, "/studies/demo/trials/0").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("<svg"), "the trial page draws the cell");
    assert!(
        body.contains("/studies/demo/files/export/genotype.txt"),
        "{body}"
    );
    assert!(
        body.contains("not served"),
        "a file outside the folder is not linked"
    );
    let (s, body, _) = get(&app, "/studies/demo/compare?a=0&b=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Trial #0") && body.contains("Trial #1"));
    let (s, body, _) = get(&app, "/api/studies/demo/curves?trials=0,1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        json(&body)["curves"][0]["points"].as_array().unwrap().len(),
        2
    );
    let (s, _, h) = get(&app, "/static/uPlot.iife.min.js").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[tokio::test]
async fn names_and_architectures_are_escaped() {
    let f = fixture(EVIL, 3);
    // A trial whose architecture string is markup (a storage written by anything).
    let study = f.storage.study(EVIL).unwrap();
    let mut w = SyntheticWorker::new(&*f.storage, study, "w1", 2);
    let arch = "<img src=x onerror=alert(2)>";
    let n = w.start(arch, 1).unwrap().unwrap();
    w.finish(n, arch, 1, TrialState::Complete).unwrap();
    let app = router(f.storage.clone(), DashboardOptions::default());
    let enc = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    for uri in [
        "/".to_string(),
        format!("/studies/{enc}"),
        format!("/studies/{enc}/trials/{n}"),
        format!("/studies/{enc}/compare?a=0&b={n}"),
    ] {
        let (s, body, _) = get(&app, &uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        assert!(!body.contains(EVIL), "{uri} holds the raw name: {body}");
        assert!(!body.contains("<img src=x"), "{uri} holds the raw arch");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{uri} shows the name as text"
        );
    }
    let (_, body, _) = get(&app, &format!("/studies/{enc}/trials/{n}")).await;
    assert!(body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // The API hands the strings back as JSON strings, for the script to set as text.
    let (s, body, h) = get(&app, &format!("/api/studies/{enc}/trials?q=img")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(json(&body)["rows"][0]["arch"], arch);
    // A missing study's name is escaped on the 404 page too.
    let (s, body, _) = get(&app, "/studies/%3Cb%3Ex").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("&lt;b&gt;x") && !body.contains("<b>x"));
}

#[tokio::test]
async fn files_outside_the_artefact_folder_are_refused() {
    let f = fixture("demo", 2);
    let app = router(f.storage.clone(), DashboardOptions::default());
    let (s, body, h) = get(&app, "/studies/demo/files/export/genotype.txt").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, "genotype");
    assert_eq!(h["content-security-policy"], "sandbox allow-scripts");
    let (s, _, _) = get(&app, "/studies/demo/files/report.html").await;
    assert_eq!(s, StatusCode::OK);
    // A link inside the folder that points out of it.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&f.outside, f.out.join("link.txt")).unwrap();
    let abs = f.outside.display().to_string();
    for uri in [
        "/studies/demo/files/../secret.txt".to_string(),
        "/studies/demo/files/export/../../secret.txt".to_string(),
        "/studies/demo/files/%2e%2e/secret.txt".to_string(),
        "/studies/demo/files/%2E%2E%2Fsecret.txt".to_string(),
        "/studies/demo/files/..%5Csecret.txt".to_string(),
        format!("/studies/demo/files/{abs}"),
        format!("/studies/demo/files/{}", abs.replace('/', "%2F")),
        "/studies/demo/files/link.txt".to_string(),
        "/studies/demo/files/export".to_string(),
        "/studies/demo/files/nope.txt".to_string(),
        "/studies/nope/files/report.html".to_string(),
    ] {
        let (s, body, _) = get(&app, &uri).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert!(!body.contains("SECRET"), "{uri}");
    }
}

#[tokio::test]
async fn missing_studies_and_trials_are_404_pages() {
    let f = fixture("demo", 2);
    let app = router(f.storage.clone(), DashboardOptions::default());
    for uri in [
        "/studies/nope",
        "/studies/demo/trials/99",
        "/studies/demo/trials/-1",
        "/studies/demo/trials/abc",
        "/studies/demo/compare?a=0&b=99",
        "/no/such/page",
        "/static/nope.js",
    ] {
        let (s, body, h) = get(&app, uri).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{uri}: {body}");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    for uri in [
        "/api/studies/nope",
        "/api/studies/nope/trials",
        "/api/studies/demo/trials/99",
        "/api/studies/demo/curves?trials=0,99",
        "/api/studies/nope/events",
    ] {
        let (s, body, _) = get(&app, uri).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            json(&body)["error"].as_str().unwrap().contains("no"),
            "{body}"
        );
    }
    let (s, _, _) = get(&app, "/studies/demo/compare?a=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_trials_table_is_paginated_sorted_and_filtered_on_the_server() {
    let f = fixture("big", 120);
    let app = router(f.storage.clone(), DashboardOptions::default());
    let (s, body, _) = get(&app, "/api/studies/big/trials").await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["total"], 120);
    assert_eq!(v["rows"].as_array().unwrap().len(), 50);
    assert_eq!(v["pages"], 3);
    let v = json(
        &get(&app, "/api/studies/big/trials?page=3&per_page=50")
            .await
            .1,
    );
    assert_eq!(v["rows"].as_array().unwrap().len(), 20);
    assert_eq!(v["rows"][0]["number"], 100);
    let v = json(&get(&app, "/api/studies/big/trials?page=9").await.1);
    assert_eq!(v["rows"].as_array().unwrap().len(), 0);
    // Sorted by the first objective, best first; failed trials (no value) last.
    let v = json(
        &get(
            &app,
            "/api/studies/big/trials?sort=value&desc=1&per_page=500",
        )
        .await
        .1,
    );
    let vals: Vec<Option<f64>> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"][0].as_f64())
        .collect();
    assert_eq!(vals.len(), 120);
    let present: Vec<f64> = vals.iter().flatten().copied().collect();
    assert!(present.windows(2).all(|w| w[0] >= w[1]));
    assert!(vals[present.len()..].iter().all(Option::is_none));
    let v = json(&get(&app, "/api/studies/big/trials?state=fail").await.1);
    assert_eq!(v["matched"], 12);
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "FAIL")
    );
    let v = json(
        &get(
            &app,
            "/api/studies/big/trials?q=NOR_CONV_3x3~0&per_page=500",
        )
        .await
        .1,
    );
    let m = v["matched"].as_u64().unwrap();
    assert!(m > 0 && m < 120);
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["arch"].as_str().unwrap().contains("nor_conv_3x3~0"))
    );
    for bad in [
        "per_page=0",
        "per_page=501",
        "state=DONE",
        "sort=%3Cx%3E",
        "page=x",
    ] {
        let (s, _, _) = get(&app, &format!("/api/studies/big/trials?{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_dashboard_is_read_only_and_local_by_default() {
    let f = fixture("demo", 2);
    let app = router(f.storage.clone(), DashboardOptions::default());
    for (m, uri) in [
        ("POST", "/api/studies"),
        ("DELETE", "/api/studies/demo"),
        ("PUT", "/studies/demo/files/report.html"),
        ("POST", "/studies/demo"),
    ] {
        let (s, _, _) = request(&app, m, uri).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{m} {uri}");
    }
    assert_eq!(
        f.storage
            .counts(f.storage.study("demo").unwrap().id)
            .unwrap()
            .total,
        2
    );
    let options = DashboardOptions {
        port: 0,
        ..DashboardOptions::default()
    };
    assert_eq!(options.host, "127.0.0.1");
    let listener = nascent_dashboard::bind(&options).await.unwrap();
    assert!(listener.local_addr().unwrap().ip().is_loopback());
    // A bad address is an error naming it, not a panic.
    let bad = DashboardOptions {
        host: "not an address".into(),
        ..options
    };
    let e = nascent_dashboard::bind(&bad).await.unwrap_err().to_string();
    assert!(e.contains("not an address"), "{e}");
}

#[tokio::test]
async fn only_the_chosen_study_is_shown() {
    let f = fixture("demo", 2);
    f.storage.create_study(&spec("other", "nb201")).unwrap();
    let options = DashboardOptions {
        study: Some("demo".into()),
        ..DashboardOptions::default()
    };
    let app = router(f.storage.clone(), options);
    let (s, _, h) = get(&app, "/").await;
    assert!(s.is_redirection());
    assert_eq!(h["location"], "/studies/demo");
    assert_eq!(get(&app, "/studies/other").await.0, StatusCode::NOT_FOUND);
    let v = json(&get(&app, "/api/studies").await.1);
    assert_eq!(v.as_array().unwrap().len(), 1);
}

/// The event stream, over a real socket: an update on connecting, and another within two
/// seconds of a worker finishing a trial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_a_worker() {
    use tokio::io::AsyncWriteExt;
    let f = fixture("live", 3);
    let options = DashboardOptions {
        port: 0,
        ..DashboardOptions::default()
    };
    let listener = nascent_dashboard::bind(&options).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(nascent_dashboard::serve(
        listener,
        f.storage.clone(),
        options,
    ));
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(
        b"GET /api/studies/live/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
    )
    .await
    .unwrap();
    let mut seen = String::new();
    read_until(&mut seen, &mut sock, 1).await;
    assert!(seen.contains("text/event-stream"), "{seen}");
    let storage = f.storage.clone();
    tokio::task::spawn_blocking(move || {
        let study = storage.study("live").unwrap();
        SyntheticWorker::new(&*storage, study, "w9", 9)
            .run(&Nb201Space::new(), 1, 1)
            .unwrap();
    })
    .await
    .unwrap();
    read_until(&mut seen, &mut sock, 2).await;
    server.abort();
}

/// Reads the stream until it has held `count` update events, each within 2 seconds.
async fn read_until(seen: &mut String, sock: &mut tokio::net::TcpStream, count: usize) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while seen.matches("event: update").count() < count {
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut buf))
            .await
            .expect("no event within 2 s")
            .unwrap();
        assert!(n > 0, "stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// The analysis section: shown when the dashboard has one, computed once per change of the
/// study (not per request), its failure a note with the reason escaped.
#[tokio::test]
async fn the_analysis_is_computed_once_per_change() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let f = fixture("demo", 5);
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let hook: Arc<nascent_dashboard::AnalysisFn> = Arc::new(move |study, trials| {
        c2.fetch_add(1, Ordering::SeqCst);
        if trials.len() < 6 {
            return Err(format!("`{}` has <6 trials", study.name));
        }
        Ok(format!("<p class=\"fragment\">{} trials</p>", trials.len()))
    });
    let options = DashboardOptions {
        analysis: Some(nascent_dashboard::Analysis(hook)),
        analysis_interval: std::time::Duration::ZERO,
        refresh_interval: std::time::Duration::ZERO,
        ..DashboardOptions::default()
    };
    let app = router(f.storage.clone(), options);
    let (_, page, _) = get(&app, "/studies/demo").await;
    assert!(page.contains("id=\"analysis-body\""));
    let (s, body, _) = get(&app, "/studies/demo/analysis").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("&lt;6 trials"), "{body}");
    get(&app, "/studies/demo/analysis").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "unchanged study: computed once"
    );
    let study = f.storage.study("demo").unwrap();
    SyntheticWorker::new(&*f.storage, study, "w5", 5)
        .run(&Nb201Space::new(), 1, 1)
        .unwrap();
    let (_, body, _) = get(&app, "/studies/demo/analysis").await;
    assert_eq!(body, "<p class=\"fragment\">6 trials</p>");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The default: nascent-report's analysis of the study.
    let study = f.storage.study("demo").unwrap();
    SyntheticWorker::new(&*f.storage, study, "w6", 6)
        .run(&Nb201Space::new(), 20, 1)
        .unwrap();
    let app = router(f.storage.clone(), DashboardOptions::default());
    let (s, body, _) = get(&app, "/studies/demo/analysis").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("nascent-analysis"), "{body}");
    // Without an analysis: no section, and its address is a 404.
    let app = router(
        f.storage.clone(),
        DashboardOptions {
            analysis: None,
            ..DashboardOptions::default()
        },
    );
    assert!(!get(&app, "/studies/demo").await.1.contains("analysis-body"));
    assert_eq!(
        get(&app, "/studies/demo/analysis").await.0,
        StatusCode::NOT_FOUND
    );
}

//! The dashboard on a 20,000-trial study: the study page's first paint and time until its
//! table and charts are drawn (headless Chromium over chromedriver), the API's latency (cold:
//! the first request reads the study; warm: later ones), and the server's memory.
//!
//! ```text
//! cargo bench -p nascent-dashboard --bench dashboard -- [--trials 20000] [--out bench/results/dashboard_20k.json]
//! ```
//!
//! The trials are written through the `Storage` API into an SQLite file (DARTS architectures,
//! two epochs each), reused when the file already holds them (`--db PATH`). The server runs
//! in a child process (this program started with `--serve`) so that its resident memory is
//! its own.

use fantoccini::{Client, ClientBuilder};
use nascent_core::storage::Storage;
use nascent_dashboard::testing::{SyntheticWorker, spec};
use serde_json::{Value, json};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        return serve(&arg("--serve").expect("--serve URL"));
    }
    if args.iter().any(|a| a == "--test") {
        // `cargo test --benches` runs benches as tests: nothing to assert here.
        return;
    }
    let n: usize = arg("--trials").map_or(20_000, |s| s.parse().expect("--trials N"));
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| {
        format!(
            "{}/../../bench/results/dashboard_{}k.json",
            env!("CARGO_MANIFEST_DIR"),
            n / 1000
        )
    }));
    let db = PathBuf::from(arg("--db").unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("nascent-dashboard-bench-{n}.db"))
            .display()
            .to_string()
    }));
    let url = format!("sqlite://{}", db.display());
    let write_seconds = prepare(&url, n);

    // The server, in its own process.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_string();
    let pid = child.id();
    eprintln!("server pid {pid} at {addr}");
    let rss_idle = rss_kib(pid);

    let api = "/api/studies/bench-20k".replace("20k", &format!("{}k", n / 1000));
    let mut latency = serde_json::Map::new();
    let cold = time_get(&addr, &format!("{api}/trials?page=1&per_page=50"));
    latency.insert("trials_first_request_cold_ms".into(), json!(cold));
    for (name, path) in [
        (
            "trials_page1_by_number",
            format!("{api}/trials?page=1&per_page=50"),
        ),
        (
            "trials_sorted_by_value",
            format!("{api}/trials?sort=value&desc=1&per_page=50"),
        ),
        (
            "trials_page_200",
            format!("{api}/trials?page=200&per_page=50"),
        ),
        (
            "trials_search_arch",
            format!("{api}/trials?q=sep_conv_5x5&per_page=50"),
        ),
        (
            "trials_state_filter",
            format!("{api}/trials?state=FAIL&per_page=50"),
        ),
        ("summary_with_scatter", api.clone()),
        ("curves_top5", format!("{api}/curves")),
    ] {
        let mut times: Vec<f64> = (0..15).map(|_| time_get(&addr, &path)).collect();
        times.sort_by(f64::total_cmp);
        latency.insert(
            format!("{name}_ms"),
            json!({"median": times[times.len() / 2], "max": times[times.len() - 1]}),
        );
    }
    let rss_after_api = rss_kib(pid);

    let paint = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(first_paint(&addr, &api.replace("/api", "")));
    let rss_after_browser = rss_kib(pid);
    let hwm = hwm_kib(pid);
    let _ = child.kill();
    let _ = child.wait();

    let result = json!({
        "trials": n,
        "storage": "sqlite",
        "space": "darts",
        "write_seconds": write_seconds,
        "latency": latency,
        "page": paint,
        "server_rss_mib": {
            "idle": rss_idle / 1024.0,
            "after_api_requests": rss_after_api / 1024.0,
            "after_browser_loads": rss_after_browser / 1024.0,
            "peak": hwm / 1024.0,
        },
        "machine": machine(),
        "note": "server in its own process, release build; the machine's load at the start is under `machine`",
    });
    let text = serde_json::to_string_pretty(&result).unwrap();
    println!("{text}");
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(&out, text + "\n").unwrap();
    eprintln!("wrote {}", out.display());
}

/// Writes `n` trials unless the file has them; the seconds it took (0 when reused).
fn prepare(url: &str, n: usize) -> f64 {
    let storage = nascent_store::open(url).expect("opening the bench storage");
    let name = format!("bench-{}k", n / 1000);
    if let Ok(s) = storage.study(&name) {
        if storage.counts(s.id).unwrap().total as usize >= n {
            eprintln!("reusing {n} trials in {url}");
            return 0.0;
        }
        panic!("{url} holds an unfinished `{name}`: delete the file and run again");
    }
    let study = storage.create_study(&spec(&name, "darts")).unwrap();
    let space = nascent_space::DartsSpace::new();
    let t0 = Instant::now();
    let mut w = SyntheticWorker::new(&*storage, study, "bench", 1);
    for done in (0..n).step_by(1000) {
        w.run(&space, 1000.min(n - done), 2).unwrap();
        eprintln!(
            "wrote {} trials ({:.0} s)",
            done + 1000.min(n - done),
            t0.elapsed().as_secs_f64()
        );
    }
    t0.elapsed().as_secs_f64()
}

fn serve(url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let storage: std::sync::Arc<dyn Storage> = nascent_store::open(url).unwrap().into();
        let options = nascent_dashboard::DashboardOptions {
            port: 0,
            ..Default::default()
        };
        let listener = nascent_dashboard::bind(&options).await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        nascent_dashboard::serve(listener, storage, options)
            .await
            .unwrap();
    });
}

/// Milliseconds for one GET of `path` (a new connection each time, body read to the end).
fn time_get(addr: &str, path: &str) -> f64 {
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let head = String::from_utf8_lossy(&body[..body.len().min(20)]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    ms
}

fn status_field(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn rss_kib(pid: u32) -> f64 {
    status_field(pid, "VmRSS:")
}

fn hwm_kib(pid: u32) -> f64 {
    status_field(pid, "VmHWM:")
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "load_average_1_5_15_min": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

/// Loads the study page in headless Chromium: first contentful paint, and when the table (50
/// rows) and the four charts were drawn, for the first load (server cache cold) and four more.
async fn first_paint(addr: &str, page: &str) -> Value {
    let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
        eprintln!("no chromium/chromedriver: page timings left out");
        return json!(null);
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut drv = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({"goog:chromeOptions": {"binary": chromium, "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1400,1000",
        format!("--user-data-dir={}", profile.path().display())]}});
    let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    b.capabilities(caps.as_object().unwrap().clone());
    let c = b
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let mut loads = Vec::new();
    for _ in 0..5 {
        loads.push(load(&c, &format!("http://{addr}{page}")).await);
    }
    c.close().await.unwrap();
    let _ = drv.kill();
    let _ = drv.wait();
    let med = |key: &str| {
        let mut v: Vec<f64> = loads[1..]
            .iter()
            .map(|l| l[key].as_f64().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    json!({
        "first_load": loads[0],
        "warm_median": {
            "first_contentful_paint_ms": med("first_contentful_paint_ms"),
            "table_and_charts_drawn_ms": med("table_and_charts_drawn_ms"),
        },
        "loads": loads,
    })
}

async fn load(c: &Client, url: &str) -> Value {
    c.goto(url).await.unwrap();
    let t0 = Instant::now();
    let drawn = loop {
        let v = c
            .execute(
                "return (document.querySelectorAll('#trials tbody tr').length === 50 \
                 && document.querySelectorAll('.uplot').length === 4) ? performance.now() : null",
                vec![],
            )
            .await
            .unwrap();
        if let Some(ms) = v.as_f64() {
            break ms;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the page did not fill in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let fcp = c
        .execute(
            "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null",
            vec![],
        )
        .await
        .unwrap();
    json!({"first_contentful_paint_ms": fcp, "table_and_charts_drawn_ms": drawn})
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

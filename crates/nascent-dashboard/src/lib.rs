//! # nascent-dashboard
//!
//! A live, read-only web dashboard over any [`Storage`] (SQLite, memory, and any back end
//! that implements the trait): the studies, a study's trials (sorted, filtered and paginated
//! on the server), best-so-far against trials and time, the objective scatter with its Pareto
//! front, learning curves, one trial's cell diagram, metrics and files, and two trials side by
//! side. Pages follow the storage while workers write to it: each study page listens to
//! server-sent events (`/api/studies/NAME/events`), sent within half a second of a change.
//!
//! Served by axum on tokio; the charts are drawn by uPlot 1.6.32 (MIT), vendored from the npm
//! registry and served from the binary, so the dashboard needs no network.
//!
//! Safe by default: it binds `127.0.0.1` unless told otherwise ([`DashboardOptions::host`]),
//! answers only `GET` requests, escapes every text that comes from storage, serves files only
//! from inside a study's artefact folder (no `..`, no absolute path, links resolved), and
//! answers a missing study, trial or file with a 404 page.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = nascent_store::open("sqlite:///tmp/nascent.db")?;
//! let options = nascent_dashboard::DashboardOptions::default();
//! let listener = nascent_dashboard::bind(&options).await?;
//! eprintln!("dashboard at http://{}", listener.local_addr()?);
//! nascent_dashboard::serve(listener, storage.into(), options).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod files;
pub mod pages;
pub mod state;
pub mod testing;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use error::{ApiError, DashError, PageError};
use nascent_core::storage::{Storage, StudyRecord, TrialRecord};
use serde::Deserialize;
use state::{AppState, StudyCache, lock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use data::TrialQuery;

/// Renders what a study's trials teach (importances, marginal effects, motifs) as an HTML
/// fragment for the study page, or says why it cannot. The fragment is inserted as is, so it
/// must escape every text it takes from storage.
pub type AnalysisFn = dyn Fn(&StudyRecord, &[TrialRecord]) -> Result<String, String> + Send + Sync;

/// The analysis a dashboard shows ([`AnalysisFn`]).
#[derive(Clone)]
pub struct Analysis(pub Arc<AnalysisFn>);

impl Analysis {
    /// nascent-report's analysis of the first objective (functional ANOVA importances and
    /// marginal effects over a forest surrogate, top-decile motifs) as its HTML fragment.
    pub fn report() -> Self {
        Analysis(Arc::new(|study, trials| {
            nascent_report::analysis::analyze_study(
                study,
                trials,
                0,
                &nascent_report::analysis::AnalysisConfig::default(),
            )
            .map(|a| nascent_report::analysis::fragment(&a))
            .map_err(|e| e.to_string())
        }))
    }
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analysis(..)")
    }
}

/// How the dashboard runs.
#[derive(Clone, Debug)]
pub struct DashboardOptions {
    /// Address to listen on (default `127.0.0.1`: this machine only).
    pub host: String,
    /// Port (default 8080; 0 picks a free one).
    pub port: u16,
    /// Show only this study (the studies page leads straight to it).
    pub study: Option<String>,
    /// The artefact folder of a study, by name, where it is not the one found from its
    /// recorded artefacts ([`AppState::artefact_dir`]).
    pub artefact_dirs: HashMap<String, PathBuf>,
    /// How often the storage is read again at most (default 250 ms).
    pub refresh_interval: Duration,
    /// How often the event stream checks for changes (default 500 ms).
    pub event_interval: Duration,
    /// The analysis shown on each study page (default: [`Analysis::report`]); `None` leaves
    /// the section out.
    pub analysis: Option<Analysis>,
    /// How long an analysis is shown before it is computed again for a study that changed
    /// (default 30 s: on a large study it takes seconds).
    pub analysis_interval: Duration,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            host: "127.0.0.1".into(),
            port: 8080,
            study: None,
            artefact_dirs: HashMap::new(),
            refresh_interval: Duration::from_millis(250),
            event_interval: Duration::from_millis(500),
            analysis: Some(Analysis::report()),
            analysis_interval: Duration::from_secs(30),
        }
    }
}

type AppResult<T, E> = std::result::Result<T, E>;
type Shared = Arc<AppState>;

/// Binds the listening socket of `options` (host and port); the error names the address.
pub async fn bind(options: &DashboardOptions) -> std::io::Result<tokio::net::TcpListener> {
    let addr = format!("{}:{}", options.host, options.port);
    tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves the dashboard on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    storage: Arc<dyn Storage>,
    options: DashboardOptions,
) -> std::io::Result<()> {
    axum::serve(listener, router(storage, options)).await
}

/// The dashboard's routes over `storage`.
pub fn router(storage: Arc<dyn Storage>, options: DashboardOptions) -> Router {
    let state: Shared = Arc::new(AppState::new(storage, options));
    Router::new()
        .route("/", get(studies_page))
        .route("/studies/{name}", get(study_page))
        .route("/studies/{name}/trials/{number}", get(trial_page))
        .route("/studies/{name}/compare", get(compare_page))
        .route("/studies/{name}/files/{*path}", get(study_file))
        .route("/studies/{name}/analysis", get(study_analysis))
        .route("/api/studies", get(api_studies))
        .route("/api/studies/{name}", get(api_summary))
        .route("/api/studies/{name}/trials", get(api_trials))
        .route("/api/studies/{name}/trials/{number}", get(api_trial))
        .route("/api/studies/{name}/curves", get(api_curves))
        .route("/api/studies/{name}/events", get(api_events))
        .route("/static/{file}", get(asset))
        .route(
            "/favicon.ico",
            get(|| asset(Path("favicon.svg".to_string()))),
        )
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn not_found() -> PageError {
    PageError(DashError::NotFound("no such page".into()))
}

/// Runs storage work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T, DashError> + Send + 'static,
) -> AppResult<T, DashError> {
    tokio::task::spawn_blocking(f).await?
}

/// Runs `f` on the refreshed cache of the study `name`.
async fn with_study<T: Send + 'static>(
    st: &Shared,
    name: String,
    f: impl FnOnce(&AppState, &StudyCache) -> AppResult<T, DashError> + Send + 'static,
) -> AppResult<T, DashError> {
    let st = st.clone();
    blocking(move || {
        let cache = st.study(&name)?;
        let guard = lock(&cache);
        f(&st, &guard)
    })
    .await
}

fn parse_number(s: &str) -> AppResult<u64, DashError> {
    s.parse()
        .map_err(|_| DashError::NotFound(format!("`{s}` is not a trial number")))
}

fn trial_of(cache: &StudyCache, number: u64) -> AppResult<&TrialRecord, DashError> {
    cache.trials.get(number as usize).ok_or_else(|| {
        DashError::NotFound(format!(
            "study `{}` has no trial {number}",
            cache.record.name
        ))
    })
}

fn study_rows(st: &AppState) -> AppResult<Vec<serde_json::Value>, DashError> {
    let mut rows = Vec::new();
    for s in st.studies()? {
        let cache = st.study(&s.name)?;
        let guard = lock(&cache);
        rows.push(data::study_row(&guard.record, &guard));
    }
    Ok(rows)
}

async fn studies_page(State(st): State<Shared>) -> AppResult<Response, PageError> {
    if let Some(name) = &st.options.study {
        return Ok(Redirect::to(&pages::study_url(name)).into_response());
    }
    let st2 = st.clone();
    let rows = blocking(move || study_rows(&st2)).await?;
    Ok(pages::studies(&rows).into_response())
}

async fn study_page(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> AppResult<Html<String>, PageError> {
    Ok(with_study(&st, name, |st, c| {
        Ok(pages::study(c, st.options.analysis.is_some()))
    })
    .await?)
}

async fn trial_page(
    State(st): State<Shared>,
    Path((name, number)): Path<(String, String)>,
) -> AppResult<Html<String>, PageError> {
    let n = parse_number(&number)?;
    Ok(with_study(&st, name, move |st, c| {
        let t = trial_of(c, n)?;
        let root = st.artefact_dir(c);
        Ok(pages::trial(c, t, root.as_deref()))
    })
    .await?)
}

/// The analysis of a study as an HTML fragment: computed again only when the study changed and
/// the last one is older than [`DashboardOptions::analysis_interval`]; a study it cannot be
/// computed for (too few trials) gets a note saying why.
async fn study_analysis(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> AppResult<Response, PageError> {
    let st2 = st.clone();
    let html = blocking(move || {
        let Some(analysis) = st2.options.analysis.clone() else {
            return Err(DashError::NotFound(
                "this dashboard shows no analysis".into(),
            ));
        };
        let cache = st2.study(&name)?;
        let (record, trials, version) = {
            let c = lock(&cache);
            if let Some(html) = st2.cached_analysis(&name, c.version) {
                return Ok(html);
            }
            (c.record.clone(), c.trials.clone(), c.version)
        };
        let html = match (analysis.0)(&record, &trials) {
            Ok(h) => h,
            Err(why) => format!(
                "<p class=\"note\">No analysis yet: {}</p>",
                nascent_report::escape(&why)
            ),
        };
        Ok(st2.store_analysis(&name, version, html))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html.to_string(),
    )
        .into_response())
}

#[derive(Deserialize)]
struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
}

async fn compare_page(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<CompareQuery>,
) -> AppResult<Html<String>, PageError> {
    let (Some(a), Some(b)) = (q.a, q.b) else {
        return Err(PageError(DashError::BadRequest(
            "compare needs two trials: ?a=NUMBER&b=NUMBER".into(),
        )));
    };
    let (a, b) = (parse_number(a.trim())?, parse_number(b.trim())?);
    Ok(with_study(&st, name, move |_, c| {
        Ok(pages::compare(c, trial_of(c, a)?, trial_of(c, b)?))
    })
    .await?)
}

async fn study_file(
    State(st): State<Shared>,
    Path((name, path)): Path<(String, String)>,
) -> AppResult<Response, PageError> {
    let (file, bytes) = with_study(&st, name, move |st, c| {
        let root = st.artefact_dir(c).ok_or_else(|| {
            DashError::NotFound(format!(
                "study `{}` has no artefact folder to serve files from",
                c.record.name
            ))
        })?;
        let file = files::resolve(&root, &path)?;
        let bytes = std::fs::read(&file)
            .map_err(|e| DashError::NotFound(format!("cannot read `{path}`: {e}")))?;
        Ok((file, bytes))
    })
    .await?;
    let kind = files::content_type(&file);
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // A served page runs in its own opaque origin: it cannot read the dashboard's API.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts"),
    );
    if kind == "application/octet-stream" {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    Ok(r)
}

fn json_response(v: serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        v.to_string(),
    )
        .into_response()
}

async fn api_studies(State(st): State<Shared>) -> AppResult<Response, ApiError> {
    let rows = blocking(move || study_rows(&st)).await?;
    Ok(json_response(serde_json::Value::Array(rows)))
}

#[derive(Deserialize)]
struct SummaryQuery {
    x: Option<String>,
}

async fn api_summary(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<SummaryQuery>,
) -> AppResult<Response, ApiError> {
    let v = with_study(&st, name, move |_, c| {
        data::summary(c, q.x.as_deref().filter(|x| !x.is_empty()))
    })
    .await?;
    Ok(json_response(v))
}

async fn api_trials(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<TrialQuery>,
) -> AppResult<Response, ApiError> {
    let v = with_study(&st, name, move |_, c| data::trials_page(c, &q)).await?;
    Ok(json_response(v))
}

async fn api_trial(
    State(st): State<Shared>,
    Path((name, number)): Path<(String, String)>,
) -> AppResult<Response, ApiError> {
    let n = parse_number(&number)?;
    let v = with_study(&st, name, move |_, c| Ok(data::trial_full(trial_of(c, n)?))).await?;
    Ok(json_response(v))
}

#[derive(Deserialize)]
struct CurvesQuery {
    trials: Option<String>,
}

async fn api_curves(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<CurvesQuery>,
) -> AppResult<Response, ApiError> {
    let v = with_study(&st, name, move |_, c| data::curves(c, q.trials.as_deref())).await?;
    Ok(json_response(v))
}

/// Server-sent events: an `update` event with the study's version whenever what the
/// dashboard shows changed (checked every [`DashboardOptions::event_interval`]), and one at
/// once on connecting.
async fn api_events(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> AppResult<Response, ApiError> {
    // Answer a missing study with a 404 before the stream starts.
    let first = with_study(&st, name.clone(), |_, c| Ok(c.version)).await?;
    let interval = st.options.event_interval;
    let stream = futures_util::stream::unfold(
        (st, name, None::<u64>, first),
        move |(st, name, last, mut current)| async move {
            loop {
                if last != Some(current) {
                    let ev = Event::default().event("update").data(current.to_string());
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (st, name, Some(current), current),
                    ));
                }
                tokio::time::sleep(interval).await;
                match with_study(&st, name.clone(), |_, c| Ok(c.version)).await {
                    Ok(v) => current = v,
                    Err(e) => {
                        log::warn!("event stream of `{name}`: {e}");
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

const UPLOT_JS: &[u8] = include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &[u8] = include_bytes!("../assets/vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &[u8] = include_bytes!("../assets/vendor/uplot/LICENSE");
const APP_JS: &[u8] = include_bytes!("../assets/app.js");
const APP_CSS: &[u8] = include_bytes!("../assets/app.css");
const FAVICON: &[u8] = include_bytes!("../assets/favicon.svg");

async fn asset(Path(file): Path<String>) -> AppResult<Response, PageError> {
    let (body, kind) = match file.as_str() {
        "uPlot.iife.min.js" => (UPLOT_JS, "text/javascript; charset=utf-8"),
        "uPlot.min.css" => (UPLOT_CSS, "text/css; charset=utf-8"),
        "uPlot.LICENSE.txt" => (UPLOT_LICENSE, "text/plain; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => {
            return Err(PageError(DashError::NotFound(format!("no asset `{file}`"))));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response())
}

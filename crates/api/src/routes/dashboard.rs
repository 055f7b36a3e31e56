//! `GET /dashboard`: the operator's page, server-rendered HTML with inline CSS
//! and SVG charts (no scripts, no CDN): health and the seed's figures, attempts
//! and commit → done latency per hour over 24 hours, queue depth, the
//! dead-letter table with retry and discard buttons, and failures grouped by
//! cause with what to do.
//!
//! Access: a browser cannot send a bearer header from a bookmark, so the page
//! takes the same JWT once — pasted into its login form (`POST
//! /dashboard/login`) or as `?token=` (then redirected away so it leaves the
//! address bar) — and keeps it in an `HttpOnly; SameSite=Strict` cookie scoped
//! to `/dashboard`, valid as long as the token. Retry and discard are POST
//! forms carrying a CSRF token derived from the session (a cross-site page can
//! neither send the Strict cookie nor read the token).

use std::fmt::Write as _;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, SecondsFormat, Utc};
use domain::SyncJobId;
use domain::health::{TimeBucket, advice, success_rate};
use domain::job::JobPriority;
use domain::ports::{DeadJob, DeadJobFilter};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::monitor::{Snapshot, snapshot};
use crate::AppState;
use crate::error::ApiError;

const COOKIE: &str = "sync_dashboard";
/// Dead jobs shown in the table.
const DEAD_ROWS: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
    /// A message to show (after retry/discard).
    pub done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub token: String,
}

#[derive(Debug, Deserialize)]
pub struct JobForm {
    pub job: String,
    pub csrf: String,
}

fn session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

fn valid(state: &AppState, token: &str) -> Option<i64> {
    state
        .jwt
        .verify(token, Utc::now().timestamp())
        .ok()
        .map(|claims| claims.exp)
}

fn csrf_token(session: &str) -> String {
    hex::encode(Sha256::digest(
        format!("dashboard-csrf:{session}").as_bytes(),
    ))
}

fn login_cookie(token: &str, exp: i64) -> Option<HeaderValue> {
    let max_age = (exp - Utc::now().timestamp()).max(0);
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .ok()
}

fn with_cookie(mut response: Response, token: &str, exp: i64) -> Response {
    if let Some(cookie) = login_cookie(token, exp) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /dashboard`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::QueryParams(query): crate::extract::QueryParams<TokenQuery>,
) -> Result<Response, ApiError> {
    if let Some(token) = query.token.as_deref() {
        return Ok(match valid(&state, token) {
            Some(exp) => with_cookie(Redirect::to("/dashboard").into_response(), token, exp),
            None => login_page(
                StatusCode::UNAUTHORIZED,
                "That token is not valid (or expired).",
            ),
        });
    }
    let Some(token) = session(&headers).filter(|t| valid(&state, t).is_some()) else {
        return Ok(login_page(StatusCode::UNAUTHORIZED, ""));
    };
    let html = render(&state, &csrf_token(token), query.done.as_deref()).await?;
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /dashboard/login` with the form field `token`.
pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    match valid(&state, token) {
        Some(exp) => with_cookie(Redirect::to("/dashboard").into_response(), token, exp),
        None => login_page(
            StatusCode::UNAUTHORIZED,
            "That token is not valid (or expired).",
        ),
    }
}

/// `POST /dashboard/logout`: forgets the cookie.
pub async fn logout() -> Response {
    let mut response = Redirect::to("/dashboard").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "sync_dashboard=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

/// `POST /dashboard/retry` and `/dashboard/discard` with `job` and `csrf`.
pub async fn retry(
    state: State<AppState>,
    headers: HeaderMap,
    form: Form<JobForm>,
) -> Result<Response, ApiError> {
    act(state, headers, form, true).await
}

pub async fn discard(
    state: State<AppState>,
    headers: HeaderMap,
    form: Form<JobForm>,
) -> Result<Response, ApiError> {
    act(state, headers, form, false).await
}

async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<JobForm>,
    replay: bool,
) -> Result<Response, ApiError> {
    let Some(token) = session(&headers).filter(|t| valid(&state, t).is_some()) else {
        return Ok(login_page(StatusCode::UNAUTHORIZED, "Log in first."));
    };
    if form.csrf != csrf_token(token) {
        return Ok((StatusCode::FORBIDDEN, Html(page_shell("Refused", "<p>The form is stale or came from another site. Reload the dashboard and try again.</p>"))).into_response());
    }
    let job: SyncJobId = form.job.parse().map_err(|_| ApiError::InvalidQuery {
        message: "job must be a sync job id".into(),
    })?;
    let filter = DeadJobFilter {
        job_id: Some(job),
        ..DeadJobFilter::default()
    };
    let n = if replay {
        state
            .ops
            .dead_letters
            .replay(&filter, JobPriority::Live)
            .await?
    } else {
        state.ops.dead_letters.discard(&filter).await?
    };
    let verb = if replay { "retried" } else { "discarded" };
    tracing::info!(sync.job_id = %job, count = n, "dead job {verb} from the dashboard");
    // Post/redirect/get: a reload does not repeat the action.
    Ok(Redirect::to(&format!("/dashboard?done={verb}-{n}")).into_response())
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1c2430}
header{background:#1c2430;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:18px;margin:0}
main{padding:16px 24px;max-width:1200px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .label{font-size:12px;color:#5b6675;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:26px;font-weight:600;margin-top:4px}
.healthy{color:#1a7f37}.degraded{color:#b35900}.unhealthy{color:#c62828}
section{background:#fff;border-radius:8px;padding:12px 16px;margin-bottom:16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e7ec;vertical-align:top}
th{color:#5b6675;font-weight:600}
button{font:inherit;font-size:12px;padding:3px 10px;border-radius:4px;border:1px solid #8a96a3;background:#fff;cursor:pointer}
button.primary{background:#1f6feb;color:#fff;border-color:#1f6feb}
form{display:inline}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.note{color:#5b6675;font-size:12px}
.flash{background:#e6f4ea;border:1px solid #1a7f37;padding:8px 12px;border-radius:6px;margin-bottom:12px}
ul{margin:4px 0 0 18px;padding:0}
";

fn page_shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn login_page(status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"unhealthy\">{}</p>", esc(message))
    };
    let body = format!(
        "<header><h1>Sync dashboard</h1></header><main><section><h2>Log in</h2>{message}\
         <p class=\"note\">Paste a bearer token (<code>api token --sub you</code> prints one).</p>\
         <form method=\"post\" action=\"/dashboard/login\"><input id=\"token\" name=\"token\" type=\"password\" size=\"60\" autocomplete=\"off\"> \
         <button class=\"primary\" id=\"login\" type=\"submit\">Log in</button></form></section></main>"
    );
    (status, Html(page_shell("Sync dashboard: log in", &body))).into_response()
}

async fn render(state: &AppState, csrf: &str, done: Option<&str>) -> Result<String, ApiError> {
    let ops = &state.ops;
    let Snapshot { figures, report } = snapshot(state, None).await?;
    let now = Utc::now();
    let timeline = ops.stats.timeline(now - Duration::hours(24), 3600).await?;
    let groups = ops
        .stats
        .failure_groups(now - Duration::hours(24), 10)
        .await?;
    let depth = ops.depth.depth().await?;
    let dead = ops
        .dead_letters
        .list(&DeadJobFilter {
            limit: Some(DEAD_ROWS),
            ..DeadJobFilter::default()
        })
        .await?;

    let status = report.status.as_str();
    let mut b = String::new();
    let _ = write!(
        b,
        "<header><h1>Booking ⇄ GoHighLevel sync</h1><span>updated {} · <form method=\"post\" action=\"/dashboard/logout\"><button type=\"submit\">Log out</button></form></span></header><main>",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(done) = done {
        let _ = write!(
            b,
            "<div class=\"flash\" id=\"flash\">Done: {}</div>",
            esc(done)
        );
    }
    let card = |b: &mut String, id: &str, label: &str, value: String, class: &str| {
        let _ = write!(
            b,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value {class}\" id=\"{id}\">{}</div></div>",
            esc(&value)
        );
    };
    b.push_str("<div class=\"cards\">");
    card(&mut b, "health-status", "health", status.to_owned(), status);
    card(
        &mut b,
        "success-rate",
        "success rate (24 h)",
        format!("{}%", success_rate(&figures)),
        "",
    );
    card(
        &mut b,
        "total-syncs",
        "attempts (24 h)",
        figures.total.to_string(),
        "",
    );
    card(
        &mut b,
        "failed",
        "failed (24 h)",
        figures.failed.to_string(),
        "",
    );
    card(
        &mut b,
        "dlq-size",
        "dead-letter queue",
        figures.dead_letter_size.to_string(),
        "",
    );
    card(
        &mut b,
        "queue-pending",
        "pending / due",
        format!("{} / {}", depth.pending, depth.due),
        "",
    );
    card(
        &mut b,
        "queue-running",
        "running",
        depth.running.to_string(),
        "",
    );
    let budgets = ops.depth.budgets().await?;
    let daily = domain::ports::RateLimits::default().daily;
    let used = budgets.iter().map(|b| b.used_today).max().unwrap_or(0);
    let paused = budgets.iter().filter(|b| b.paused_until.is_some()).count();
    let mut budget = format!("{} left", daily.saturating_sub(used));
    if paused > 0 {
        budget.push_str(&format!(" · {paused} paused"));
    }
    card(
        &mut b,
        "rate-limit",
        "GHL daily budget (busiest location)",
        budget,
        "",
    );
    b.push_str("</div>");

    b.push_str("<section><h2>Health</h2><ul id=\"issues\">");
    if report.issues.is_empty() {
        b.push_str("<li>No issues.</li>");
    }
    for issue in &report.issues {
        let _ = write!(b, "<li>{}</li>", esc(issue));
    }
    b.push_str("</ul>");
    let checks = report.checks;
    let _ = write!(
        b,
        "<p class=\"note\">checks: environment {} · sync performance (&gt; {}%) {} · dead-letter queue (&lt; {}) {} · failures last hour (&lt; {}) {}</p></section>",
        mark(checks.environment),
        ops.thresholds.min_success_rate,
        mark(checks.sync_performance),
        ops.thresholds.max_dead_letters,
        mark(checks.dead_letter_queue),
        ops.thresholds.max_failures_per_hour,
        mark(checks.recent_failures)
    );

    let _ = write!(
        b,
        "<div class=\"charts\"><section><h2>Attempts per hour (24 h): succeeded / failed</h2>{}</section><section><h2>Commit → done latency per hour (mean, max)</h2>{}</section></div>",
        throughput_chart(&timeline, now),
        latency_chart(&timeline, now)
    );

    b.push_str("<section><h2>Failures by cause (24 h)</h2><table id=\"causes\"><tr><th>location</th><th>class</th><th>HTTP</th><th>count</th><th>first</th><th>last</th><th>what to do</th></tr>");
    if groups.is_empty() {
        b.push_str("<tr><td colspan=\"7\">No failures.</td></tr>");
    }
    for g in &groups {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.location_id),
            g.error_class.map_or("-", |c| c.as_str()),
            g.http_status
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            g.count,
            g.first_at.format("%m-%d %H:%M"),
            g.last_at.format("%m-%d %H:%M"),
            esc(&advice(g))
        );
    }
    b.push_str("</table></section>");

    let _ = write!(
        b,
        "<section><h2>Dead-letter queue ({} shown)</h2><table id=\"dead-letters\"><tr><th>job</th><th>appointment</th><th>action</th><th>attempts</th><th>class</th><th>HTTP</th><th>error</th><th>dead since</th><th></th></tr>",
        dead.len()
    );
    if dead.is_empty() {
        b.push_str("<tr><td colspan=\"9\">Empty.</td></tr>");
    }
    for job in &dead {
        dead_row(&mut b, job, csrf);
    }
    b.push_str("</table></section>");

    b.push_str("<section><h2>Recent failures</h2><table id=\"recent-failures\"><tr><th>appointment</th><th>attempts</th><th>last attempt</th><th>error</th></tr>");
    if figures.recent_failures.is_empty() {
        b.push_str("<tr><td colspan=\"4\">None.</td></tr>");
    }
    for f in &figures.recent_failures {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.appointment_id,
            f.attempts,
            f.last_attempt.to_rfc3339_opts(SecondsFormat::Secs, true),
            esc(&f.error)
        );
    }
    b.push_str("</table></section>");

    b.push_str("<section><h2>Recommendations</h2><ul id=\"recommendations\">");
    if report.recommendations.is_empty() {
        b.push_str("<li>Nothing to do.</li>");
    }
    for r in &report.recommendations {
        let _ = write!(b, "<li>{}</li>", esc(r));
    }
    b.push_str("</ul><p class=\"note\">The same figures as JSON: <code>GET /monitor?action=status</code>. Metrics: <code>GET /metrics</code>.</p></section></main>");
    Ok(page_shell("Sync dashboard", &b))
}

fn mark(ok: bool) -> &'static str {
    if ok { "✔" } else { "✘" }
}

fn dead_row(b: &mut String, job: &DeadJob, csrf: &str) {
    let id = job.id.to_string();
    let _ = write!(
        b,
        "<tr data-job=\"{id}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
         <form method=\"post\" action=\"/dashboard/retry\"><input type=\"hidden\" name=\"job\" value=\"{id}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button class=\"primary\" id=\"retry-{id}\" type=\"submit\">Retry</button></form> \
         <form method=\"post\" action=\"/dashboard/discard\"><input type=\"hidden\" name=\"job\" value=\"{id}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button id=\"discard-{id}\" type=\"submit\">Discard</button></form></td></tr>",
        &id[..8],
        job.appointment_id,
        job.action,
        job.attempts,
        job.error_class.map_or("-", |c| c.as_str()),
        job.http_status
            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
        esc(job.last_error.as_deref().unwrap_or("")),
        job.finished_at
            .map_or_else(String::new, |t| t.format("%m-%d %H:%M").to_string()),
    );
}

const W: f64 = 520.0;
const H: f64 = 160.0;
const PAD: f64 = 28.0;

/// 24 hourly slots ending with the current hour.
fn slots(timeline: &[TimeBucket], now: chrono::DateTime<Utc>) -> Vec<Option<&TimeBucket>> {
    let hour = now.timestamp() - now.timestamp().rem_euclid(3600);
    (0..24)
        .map(|i| {
            let start = hour - (23 - i) * 3600;
            timeline.iter().find(|b| b.start.timestamp() == start)
        })
        .collect()
}

fn axes(b: &mut String, max: f64, unit: &str) {
    let _ = write!(
        b,
        "<line x1=\"{PAD}\" y1=\"{}\" x2=\"{W}\" y2=\"{}\" stroke=\"#8a96a3\"/><line x1=\"{PAD}\" y1=\"4\" x2=\"{PAD}\" y2=\"{}\" stroke=\"#8a96a3\"/>\
         <text x=\"2\" y=\"12\" font-size=\"10\" fill=\"#5b6675\">{}</text><text x=\"2\" y=\"{}\" font-size=\"10\" fill=\"#5b6675\">0</text>\
         <text x=\"{PAD}\" y=\"{}\" font-size=\"10\" fill=\"#5b6675\">-24 h</text><text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#5b6675\">now</text>",
        H - PAD,
        H - PAD,
        H - PAD,
        esc(&format!("{}{unit}", fmt_num(max))),
        H - PAD,
        H - 8.0,
        W - 24.0,
        H - 8.0
    );
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn throughput_chart(timeline: &[TimeBucket], now: chrono::DateTime<Utc>) -> String {
    let slots = slots(timeline, now);
    let max = slots
        .iter()
        .map(|s| s.map_or(0, |b| b.succeeded + b.failed))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut b = format!(
        "<svg id=\"chart-throughput\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"attempts per hour\">"
    );
    axes(&mut b, max, "");
    let plot_h = H - PAD - 6.0;
    let bar_w = (W - PAD) / 24.0;
    for (i, slot) in slots.iter().enumerate() {
        let Some(bucket) = slot else { continue };
        let x = PAD + i as f64 * bar_w + 1.0;
        let ok_h = bucket.succeeded as f64 / max * plot_h;
        let fail_h = bucket.failed as f64 / max * plot_h;
        let _ = write!(
            b,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{ok_h:.1}\" fill=\"#1a7f37\"><title>{} succeeded</title></rect>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{fail_h:.1}\" fill=\"#c62828\"><title>{} failed</title></rect>",
            H - PAD - ok_h,
            bar_w - 2.0,
            bucket.succeeded,
            H - PAD - ok_h - fail_h,
            bar_w - 2.0,
            bucket.failed
        );
    }
    b.push_str("</svg>");
    b
}

fn latency_chart(timeline: &[TimeBucket], now: chrono::DateTime<Utc>) -> String {
    let slots = slots(timeline, now);
    let max_ms = slots
        .iter()
        .map(|s| s.map_or(0.0, |b| b.max_latency_ms))
        .fold(0.0, f64::max)
        .max(1.0);
    let (scale, unit) = if max_ms >= 120_000.0 {
        (60_000.0, " min")
    } else if max_ms >= 2_000.0 {
        (1000.0, " s")
    } else {
        (1.0, " ms")
    };
    let mut b = format!(
        "<svg id=\"chart-latency\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"latency per hour\">"
    );
    axes(&mut b, max_ms / scale, unit);
    let plot_h = H - PAD - 6.0;
    let step = (W - PAD) / 24.0;
    for (series, colour, pick) in [
        (
            "mean",
            "#1f6feb",
            (|b: &TimeBucket| b.mean_latency_ms) as fn(&TimeBucket) -> f64,
        ),
        ("max", "#b35900", |b: &TimeBucket| b.max_latency_ms),
    ] {
        let points: Vec<String> = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.map(|bucket| {
                    let x = PAD + (i as f64 + 0.5) * step;
                    let y = H - PAD - pick(bucket) / max_ms * plot_h;
                    format!("{x:.1},{y:.1}")
                })
            })
            .collect();
        let _ = write!(
            b,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{series}</title></polyline>",
            points.join(" ")
        );
        for p in &points {
            if let Some((x, y)) = p.split_once(',') {
                let _ = write!(
                    b,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{colour}\"/>"
                );
            }
        }
    }
    let _ = write!(
        b,
        "<text x=\"{}\" y=\"12\" font-size=\"10\" fill=\"#1f6feb\">mean</text><text x=\"{}\" y=\"12\" font-size=\"10\" fill=\"#b35900\">max</text></svg>",
        W - 80.0,
        W - 40.0
    );
    b
}

//! `ordo serve`: the API and the dashboard on one listener, behind the layers every request
//! passes: panic catching, request ids, tracing, sensitive-header redaction, time-out and
//! body limit.

use std::iter::once;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Request, StatusCode};
use axum::Router;
use ordo_app::Ordo;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// How the HTTP server treats requests.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub secure_cookies: bool,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application: API, dashboard, and the layers around both.
pub fn app(ordo: Ordo, options: &HttpOptions) -> Router {
    ordo_api::router(ordo.clone())
        .merge(ordo_dashboard::router(ordo, options.secure_cookies))
        .fallback(ordo_api::not_found)
        .layer(DefaultBodyLimit::max(options.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, options.request_timeout))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new(once(header::AUTHORIZATION).chain(once(header::COOKIE))))
        .layer(CatchPanicLayer::new())
}

/// Looks at the clock every minute: raises at-risk and late shipment exceptions, overdue returns
/// and tickets and purchase orders, proposes replenishment once a night, puts approved rule
/// versions in force at their effective time, escalates exceptions past their due time,
/// refreshes the operating figures' gauges, and once an hour looks for anomalies. With several
/// `ordo serve` processes each looks; an open exception is never raised twice, nor escalated
/// twice for one lapse.
pub async fn watch_the_clock(ordo: Ordo) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut minutes = 0u64;
    loop {
        every.tick().await;
        // Once an hour: yesterday's and the day before's anomalies (a day is judged once whole).
        if minutes.is_multiple_of(60) {
            match ordo.anomalies().scan(2).await {
                Ok(scan) if scan.findings.iter().any(|f| f.raised) => tracing::info!(found = scan.findings.len(), "anomalies raised"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not look for anomalies"),
            }
        }
        minutes += 1;
        // Once a day across every process, after two in the morning (UTC).
        match ordo.procurement().nightly_replenishment(&ordo_app::Actor::system()).await {
            Ok(Some(proposals)) => tracing::info!(proposals = proposals.len(), "replenishment proposed"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not propose replenishment"),
        }
        match ordo.procurement().watch_purchase_orders().await {
            Ok(0) => {}
            Ok(late) => tracing::info!(late, "purchase orders past their expected date"),
            Err(e) => tracing::warn!(error = %e, "could not check purchase orders"),
        }
        match ordo.fulfilment().watch_ship_by().await {
            Ok(raised) if raised.at_risk + raised.late > 0 => {
                tracing::info!(at_risk = raised.at_risk, late = raised.late, "ship-by exceptions raised");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not check ship-by times"),
        }
        match ordo.rules().activate_due_rules().await {
            Ok(0) => {}
            Ok(activated) => tracing::info!(activated, "rule versions went into force"),
            Err(e) => tracing::warn!(error = %e, "could not put due rule versions in force"),
        }
        match ordo.returns().watch_returns().await {
            Ok(0) => {}
            Ok(overdue) => tracing::info!(overdue, "returns overdue"),
            Err(e) => tracing::warn!(error = %e, "could not check returns due back"),
        }
        match ordo.helpdesk().watch_tickets().await {
            Ok(0) => {}
            Ok(overdue) => tracing::info!(overdue, "tickets past their time"),
            Err(e) => tracing::warn!(error = %e, "could not check tickets' times"),
        }
        if let Err(e) = ordo.reports().fold_daily_totals().await {
            tracing::warn!(error = %e, "could not fold the figures' daily totals");
        }
        // Keeps the operating figures' gauges, and every role's queues, current for Prometheus.
        if let Err(e) = ordo.reports().kpis().await {
            tracing::warn!(error = %e, "could not work out the operating figures");
        }
        if let Err(e) = ordo.reports().work_queues(ordo_app::domain::access::Role::Admin).await {
            tracing::warn!(error = %e, "could not count the work queues");
        }
        match ordo.exceptions().escalate_overdue().await {
            Ok(0) => {}
            Ok(escalated) => tracing::info!(escalated, "exceptions past due escalated"),
            Err(e) => tracing::warn!(error = %e, "could not escalate exceptions past due"),
        }
    }
}

/// A one-second tick for the channel loops, which skips ticks missed while a round ran.
fn every_second() -> tokio::time::Interval {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every
}

/// Waits for the next tick; `false` once `stopped` turns true.
async fn tick_unless_stopped(every: &mut tokio::time::Interval, stopped: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = every.tick() => {}
        _ = stopped.changed() => {}
    }
    !*stopped.borrow()
}

/// The HTTPS client the channel loops call the channels with; `None`, logged, when it cannot
/// be built (`who` cannot start).
fn channels_client(who: &str) -> Option<ordo_connectors::Http> {
    ordo_connectors::Http::new().map_err(|error| tracing::error!(%error, "{who} cannot start")).ok()
}

/// Polls the channels that do not push (Amazon, eBay), each at its connector's interval, as
/// `holder`. Several processes may run this: one polls a channel at a time (a lease on its
/// cursor), and when it stops, it lets go of its leases for another to take over at once.
pub async fn poll_channels(ordo: Ordo, holder: String, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let Some(http) = channels_client("the pollers") else { return };
    let mut feeds: std::collections::HashMap<String, (ordo_app::PollTarget, ordo_connectors::Feed)> = Default::default();
    let mut polled: std::collections::HashMap<String, std::time::Instant> = Default::default();
    let mut every = every_second();
    loop {
        if !tick_unless_stopped(&mut every, &mut stopped).await {
            for channel in feeds.keys() {
                let _ = ordo.channels().release_poller(channel, &holder).await;
            }
            return;
        }
        let targets = match ordo.channels().poll_targets().await {
            Ok(targets) => targets,
            Err(error) => {
                tracing::warn!(%error, "could not read the connectors to poll");
                continue;
            }
        };
        for target in targets {
            if polled.get(&target.channel).is_some_and(|at| at.elapsed() < target.poll_interval) {
                continue;
            }
            polled.insert(target.channel.clone(), std::time::Instant::now());
            if feeds.get(&target.channel).is_none_or(|(known, _)| *known != target) {
                match ordo_connectors::Feed::for_target(&http, &target) {
                    Ok(feed) => {
                        feeds.insert(target.channel.clone(), (target.clone(), feed));
                    }
                    Err(error) => {
                        tracing::warn!(channel = %target.channel, %error, "cannot poll the channel");
                        continue;
                    }
                }
            }
            let Some((_, feed)) = feeds.get(&target.channel) else { continue };
            match ordo.channels().poll_channel(&target, feed, &holder).await {
                Ok(round) if round.stored > 0 => tracing::info!(channel = %target.channel, pages = round.pages, stored = round.stored, "polled"),
                Ok(_) => {}
                Err(error) => tracing::warn!(channel = %target.channel, %error, "polling failed"),
            }
        }
    }
}

/// Called with each channel's stock rounds as they end: a benchmark's eye on the pushes.
pub type RoundObserver = std::sync::Arc<dyn Fn(&str, &ordo_app::PushRound) + Send + Sync>;

/// Tells each connected channel Ordo can call the available-to-sell of its listings whose
/// stock moved, and what Ordo shipped and cancelled of its orders. Each channel is told by a
/// task of its own, so a slow channel (Amazon's five listings a second) never holds up
/// another. Several processes may run this: a listing or a confirmation is claimed by one
/// at a time.
pub async fn push_to_channels(ordo: Ordo, mut stopped: tokio::sync::watch::Receiver<bool>, observe: Option<RoundObserver>) {
    let Some(http) = channels_client("the channel pushers") else { return };
    // Each channel's clients, or why its connector cannot have them (said once, not every second).
    let mut clients: std::collections::HashMap<String, std::sync::Arc<ChannelClients>> = Default::default();
    let mut running: std::collections::HashMap<String, tokio::task::JoinHandle<()>> = Default::default();
    // The night each channel's stock was last read back and compared.
    let mut reconciled: std::collections::HashMap<String, chrono::NaiveDate> = Default::default();
    let mut every = every_second();
    loop {
        if !tick_unless_stopped(&mut every, &mut stopped).await {
            for (_, task) in running.drain() {
                let _ = task.await;
            }
            return;
        }
        let targets = match ordo.channels().push_targets().await {
            Ok(targets) => targets,
            Err(error) => {
                tracing::warn!(%error, "could not read the connectors to push to");
                continue;
            }
        };
        for target in targets {
            if running.get(&target.channel).is_some_and(|task| !task.is_finished()) {
                continue;
            }
            if clients.get(&target.channel).is_none_or(|known| known.target != target) {
                clients.insert(target.channel.clone(), std::sync::Arc::new(ChannelClients::for_target(&http, target.clone())));
            }
            let Some(channel) = clients.get(&target.channel).cloned() else { continue };
            let now = chrono::Utc::now();
            let nightly = chrono::Timelike::hour(&now) == RECONCILE_HOUR && reconciled.get(&target.channel) != Some(&now.date_naive());
            if nightly {
                reconciled.insert(target.channel.clone(), now.date_naive());
            }
            let task = push_to_channel(ordo.clone(), channel, stopped.clone(), observe.clone(), nightly);
            running.insert(target.channel.clone(), tokio::spawn(task));
        }
    }
}

/// A stock round that claimed fewer listings than this waits [`COALESCE_WAIT`] before the next.
const COALESCE_BELOW: usize = 100;
const COALESCE_WAIT: Duration = Duration::from_millis(250);

/// The hour (UTC) each night at which every channel's stock is read back and compared.
const RECONCILE_HOUR: u32 = 3;

/// One channel's turn: its orders confirmed, its stock read back and compared when it is the
/// `nightly` turn, then stock rounds while there is work and it keeps up (a minute at most,
/// so a changed connector is picked up), then its lag watched.
async fn push_to_channel(ordo: Ordo, clients: std::sync::Arc<ChannelClients>, stopped: tokio::sync::watch::Receiver<bool>, observe: Option<RoundObserver>, nightly: bool) {
    let channel = clients.target.channel.as_str();
    if let (true, Ok(pusher)) = (nightly, &clients.stock) {
        match ordo.channels().reconcile_stock(channel, pusher, &ordo_app::Actor::system_as("nightly-reconcile", ordo_app::domain::access::Role::Integration)).await {
            Ok(drift) => tracing::info!(channel, checked = drift.checked, differing = drift.differing.len(), "stock reconciled with the channel"),
            Err(error) => tracing::warn!(channel, %error, "could not reconcile the channel's stock"),
        }
    }
    if let Ok(confirmer) = &clients.confirmations {
        match ordo.channels().confirm_orders(channel, confirmer).await {
            Ok(round) if round.claimed > 0 => tracing::debug!(channel, confirmed = round.confirmed, refused = round.refused, failed = round.failed, "orders confirmed"),
            Ok(_) => {}
            Err(error) => tracing::warn!(channel, %error, "confirming orders failed"),
        }
    }
    if let Ok(pusher) = &clients.stock {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(60) && !*stopped.borrow() {
            match ordo.channels().push_stock(channel, pusher).await {
                Ok(round) => {
                    if let Some(observe) = &observe {
                        observe(channel, &round);
                    }
                    if round.claimed == 0 || round.throttled {
                        break;
                    }
                    tracing::debug!(channel, pushed = round.pushed, unchanged = round.unchanged, failed = round.failed, "stock pushed");
                    // A small round waits a moment, so the changes meanwhile share the next
                    // round's calls and transactions.
                    if round.claimed < COALESCE_BELOW {
                        tokio::time::sleep(COALESCE_WAIT).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(channel, %error, "pushing stock failed");
                    break;
                }
            }
        }
        if let Err(error) = ordo.channels().watch_stock_lag(channel, clients.target.sync_lag_threshold).await {
            tracing::warn!(channel, %error, "could not watch the channel's stock lag");
        }
    }
}

/// What `ordo serve` tells one channel with: its stock pusher and its order confirmer, each
/// or why its connector cannot have it.
struct ChannelClients {
    target: ordo_app::PollTarget,
    stock: Result<ordo_connectors::Pusher, String>,
    confirmations: Result<ordo_connectors::Confirmer, String>,
}

impl ChannelClients {
    fn for_target(http: &ordo_connectors::Http, target: ordo_app::PollTarget) -> ChannelClients {
        let stock = ordo_connectors::Pusher::for_target(http, &target);
        if let Err(error) = &stock {
            tracing::warn!(channel = %target.channel, %error, "cannot push stock to the channel");
        }
        let confirmations = ordo_connectors::Confirmer::for_target(http, &target);
        if let Err(error) = &confirmations {
            tracing::warn!(channel = %target.channel, %error, "cannot confirm orders to the channel");
        }
        ChannelClients { target, stock, confirmations }
    }
}

/// Inbox processors each `ordo serve` runs: rounds of different orders go on side by side
/// (on PostgreSQL without taking each other's deliveries), so intake fills its groups.
pub const INBOX_PROCESSORS: usize = 4;

/// Runs the inbox processors until `stopped` turns true.
pub fn process_inbox(ordo: &Ordo, stopped: &tokio::sync::watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..INBOX_PROCESSORS)
        .map(|_| {
            let (ordo, stopped) = (ordo.clone(), stopped.clone());
            tokio::spawn(async move { ordo.channels().run_inbox(stopped).await })
        })
        .collect()
}

/// This machine's name, for telling one `ordo serve` from another.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "ordo".to_owned())
}

/// Backs the database up into `plan.dir` every `plan.every` until `stopped`, keeping the newest
/// `plan.keep` (with their manifests). A failure is logged and tried again at the next turn.
pub async fn back_up(url: String, storage: ordo_app::StorageOptions, plan: crate::config::ScheduledBackups, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(plan.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: the first backup waits a whole period.
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(error) = std::fs::create_dir_all(&plan.dir) {
            tracing::error!(%error, dir = %plan.dir.display(), "cannot make the backup folder");
            continue;
        }
        let file = plan.dir.join(format!("ordo-{}.backup", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
        match crate::backup::backup(&url, &storage, &file).await {
            Ok(backup) => tracing::info!(file = %backup.file.display(), audit_seq = backup.inventory.audit_seq, "backup written"),
            Err(error) => {
                tracing::error!(%error, "scheduled backup failed");
                continue;
            }
        }
        // Names sort by time: the oldest beyond `keep` go.
        let mut taken: Vec<std::path::PathBuf> = std::fs::read_dir(&plan.dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        taken.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ordo-") && n.ends_with(".backup")));
        taken.sort();
        let excess = taken.len().saturating_sub(plan.keep);
        for old in taken.into_iter().take(excess) {
            let _ = std::fs::remove_file(crate::backup::manifest_path(&old));
            if let Err(error) = std::fs::remove_file(&old) {
                tracing::warn!(%error, file = %old.display(), "cannot delete an old backup");
            }
        }
    }
}

/// Writes a signed checkpoint of the audit chain's head into `plan.dir` and posts it to
/// `plan.url` every `plan.every`, and once more on the way out, until `stopped`. A failure is
/// logged and tried again at the next turn.
pub async fn checkpoint_audit(ordo: Ordo, plan: crate::config::ScheduledCheckpoints, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(plan.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => {}
        }
        match ordo.audit().audit_checkpoint().await {
            Ok(checkpoint) => {
                if let Some(dir) = &plan.dir {
                    match crate::checkpoints::write(dir, &checkpoint) {
                        Ok(path) => tracing::info!(seq = checkpoint.seq, path = %path.display(), "audit checkpoint written"),
                        Err(error) => tracing::error!(%error, "could not write an audit checkpoint"),
                    }
                }
                if let Some(url) = &plan.url {
                    match crate::checkpoints::send(url, &checkpoint).await {
                        Ok(()) => tracing::info!(seq = checkpoint.seq, url, "audit checkpoint sent"),
                        Err(error) => tracing::error!(%error, "could not send an audit checkpoint"),
                    }
                }
            }
            Err(error) => tracing::error!(%error, "could not take an audit checkpoint"),
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. Handlers learn the
/// peer's address (log-in throttling counts failures per address).
pub async fn run(listener: TcpListener, app: Router) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

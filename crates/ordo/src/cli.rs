//! The command line: one subcommand per job, each a thin call into the application.
//!
//! Exit codes: 0 done; 1 the job ran and failed (an import with bad rows); 2 the command could
//! not run (bad arguments or configuration, a database that cannot be opened).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ordo_app::domain::access::Role;
use ordo_app::import::{ImportKind, ImportOptions};
use ordo_app::{Actor, AppError, AuditVerdict, Ordo, Progress};

use crate::config::{Config, ConfigError, LogFormat, Options};
use crate::serve::{self, HttpOptions};

#[derive(Debug, Parser)]
#[command(name = "ordo", version, about = "The governed operations core for multi-channel commerce")]
pub struct Cli {
    /// TOML configuration file [default: ordo.toml in the current folder, when present]
    #[arg(long, env = "ORDO_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or migrate the database; on a new one, issue the bootstrap admin API token.
    Init {
        /// Write the bootstrap token to FILE (mode 600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Serve the API and the dashboard.
    Serve,
    /// Build the reference business and print a summary.
    Demo {
        /// Days of trading to simulate after building the business.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=3650))]
        days: u32,
    },
    /// Write a consistent copy of the whole database to FILE while it serves, with a manifest
    /// of its tables' row counts beside it (FILE.manifest.json).
    Backup {
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup into an empty database (a SQLite file that does not exist yet, or an
    /// empty PostgreSQL database), then check it: row counts against the manifest, the audit
    /// chain, and the books.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Exchange rates.
    #[command(subcommand)]
    Rates(RatesCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Measure Ordo: figures for throughput and latency.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Marketplace settlements.
    #[command(subcommand)]
    Settlement(SettlementCommand),
    /// Channel connectors and their inbox.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Financial reports in base currency, as CSV on standard output.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Helpdesk tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Demand forecasts.
    #[command(subcommand)]
    Forecast(ForecastCommand),
    /// Anomalies in the business's history.
    #[command(subcommand)]
    Anomalies(AnomaliesCommand),
    /// Each location's workload ahead: parcels, lines and units by day for the week, people
    /// needed, work at risk of missing today's cut-off, and the forecast's back-tested error.
    #[command(args_conflicts_with_subcommands = true)]
    Workload {
        #[command(subcommand)]
        command: Option<WorkloadCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Import master data from a CSV file whose columns are the API's field names, or daily
    /// sales from before Ordo (`sales-history`: columns sku, date, quantity, and channel if known)
    /// for forecasts.
    Import {
        kind: ImportKindArg,
        file: PathBuf,
        /// Import the good rows of a file that has bad ones (the bad ones are still listed).
        #[arg(long)]
        skip_invalid: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AnomaliesCommand {
    /// Judge the last DAYS complete days by channel and by SKU, and raise an exception for
    /// each new finding; prints what was found and how earlier findings were judged.
    Scan {
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=90))]
        days: i64,
        #[arg(long)]
        json: bool,
    },
    /// Run the scan's rate test on every day of a file of daily counts (columns subject, date,
    /// events, trials): how many days it would raise, and which. Reads a file, not the database.
    Evaluate {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum WorkloadCommand {
    /// Score the workload forecast on a file of order lines (columns order, time, units), every
    /// day forecast from the days before it: the error in parcels, lines and units by day and
    /// by hour, beside the same weekday last week.
    Evaluate {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The time zone of the file's local times, and of the days and hours forecast.
        #[arg(long, default_value = "UTC")]
        zone: String,
        /// The location's working calendar as JSON, the body `PUT /api/v1/locations/{code}/calendar`
        /// takes: its closed dates are forecast as the closed dates before them were.
        #[arg(long, value_name = "FILE")]
        calendar: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ForecastCommand {
    /// Score every method and the per-series choice on the last periods of each series:
    /// MASE, RMSSE and bias. Reads a Monash .tsf file (--tsf) or series,date,quantity rows
    /// (--csv with --period).
    Evaluate {
        #[arg(long, value_name = "FILE", conflicts_with = "csv", required_unless_present = "csv")]
        tsf: Option<PathBuf>,
        #[arg(long, value_name = "FILE", requires = "period")]
        csv: Option<PathBuf>,
        /// day, week, month or quarter: what the CSV's rows are summed into.
        #[arg(long, value_parser = ["day", "week", "month", "quarter"])]
        period: Option<String>,
        /// Periods held out and forecast [default: 28 days, 8 weeks, 12 months or 8 quarters].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366))]
        horizon: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TicketsCommand {
    /// Score ticket triage on every row of FILE (columns instruction, intent, category):
    /// accuracy and macro-F1 by intent and by category.
    Evaluate {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Train on these labelled tickets instead of Ordo's own training set.
        #[arg(long, value_name = "FILE")]
        train: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RatesCommand {
    /// Read the European Central Bank's reference-rate XML (eurofxref-daily.xml, or the 90-day
    /// or historical file) and set each day's rate of every currency into the base currency.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new API token for ROLE; it is shown once and stored only as a hash.
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Who or what will use the token.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token stops working; never when left out.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3650))]
        expires_in_days: Option<i64>,
    },
    /// List the tokens: id, name, role, created, expires, last used (to the minute), revoked.
    List,
    /// Revoke the live tokens called NAME (or the one with --id): they answer 401 from then on.
    Revoke {
        #[arg(long, required_unless_present = "id", conflicts_with = "id")]
        name: Option<String>,
        #[arg(long)]
        id: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a dashboard user. The password is read from the first line of standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Lift the lockout that failed log-ins put on USERNAME.
    Unlock { username: String },
    /// Stop USERNAME from logging in; their sessions end at once.
    Disable { username: String },
    /// Let a disabled USERNAME log in again.
    Enable { username: String },
    /// Set USERNAME's password, read from the first line of standard input; their sessions end.
    Password { username: String },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Replay the orders of the last DAYS days under the rules in force with the given
    /// versions put in, and print what would change. Changes nothing.
    Simulate {
        /// A rule version id to try (draft, submitted or approved); give several to try them together.
        #[arg(long = "version", required = true)]
        versions: Vec<uuid::Uuid>,
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=366))]
        days: i64,
        /// Print the simulation as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the audit chain: exit 0 with the count when every record holds, exit 1 naming the
    /// first record that was edited, removed or moved.
    Verify {
        /// A folder of signed checkpoints (`ordo audit checkpoint`): each checkpointed record
        /// must still be in the log unchanged, which finds cut tails, rewound heads and
        /// rewritten chains.
        #[arg(long, value_name = "DIR")]
        checkpoints: Option<PathBuf>,
    },
    /// Write the chain's head (sequence, hash, time), signed with the audit key, as a new file
    /// in DIR, or post it as JSON to URL (or both): keep it outside the database's reach.
    Checkpoint {
        #[arg(long, value_name = "DIR", required_unless_present = "url")]
        dir: Option<PathBuf>,
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SettlementCommand {
    /// Import a settlement report (an Amazon-style V2 flat file or a Shopify-style payout
    /// JSON, told apart by content): match it to orders, book it, raise what does not agree.
    Import {
        /// The channel the report is from.
        #[arg(long)]
        channel: String,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Process again the channel's deliveries that could not be mapped (after the listing or
    /// data was fixed), or the one named by --delivery; then process the inbox once.
    Replay {
        /// The channel's code.
        code: String,
        /// One delivery's id, as the inbox and its exception name it.
        #[arg(long)]
        delivery: Option<uuid::Uuid>,
    },
    /// Tell the channel the available-to-sell of every one of its listings again, moved or
    /// not, now (after its stock was changed by hand on the channel, say).
    Resync {
        /// The channel's code.
        code: String,
    },
    /// Send the channel again the shipments, cancellations and refunds it refused (after what
    /// it refused was fixed), or only those of one order; then one round of confirmations.
    Resend {
        /// The channel's code.
        code: String,
        /// One order's id.
        #[arg(long)]
        order: Option<uuid::Uuid>,
    },
    /// Read back through the channel's API what it shows of each listing's stock, compare it
    /// with what Ordo can sell, tell it the listings that differ, and list them.
    Reconcile {
        /// The channel's code.
        code: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Revenue and expense accounts over a period, with the net income.
    Pnl {
        #[command(flatten)]
        period: PeriodArgs,
    },
    /// One account's general ledger: each line with its source and the running balance.
    Gl {
        /// The account's code, such as 1000 or 1100-amazon.
        #[arg(long)]
        account: String,
        #[command(flatten)]
        period: PeriodArgs,
    },
    /// Contribution margin by channel, SKU or customer segment: revenue less refunds, cost of
    /// goods, fees and shipping.
    Profitability {
        #[arg(long, value_enum, default_value = "channel")]
        by: Breakdown,
        #[command(flatten)]
        period: PeriodArgs,
    },
    /// The operating review, up to today: weekly (order backlog, stock exceptions, return
    /// reasons, supplier delays, reconciliation issues) or monthly (profitability by channel,
    /// forecast accuracy, service performance, process compliance).
    Review {
        #[arg(long, value_enum, default_value = "week")]
        period: ReviewPeriodArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReviewPeriodArg {
    Week,
    Month,
}

/// What profitability is broken down by.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Breakdown {
    Channel,
    Sku,
    /// The customer's segment: consumer, business or vip.
    Segment,
}

/// A period of the books, both days included; all time when left out.
#[derive(Debug, clap::Args)]
struct PeriodArgs {
    /// First day, as 2026-11-01.
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Last day, as 2026-11-30.
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Drive the order API with concurrent clients over loopback; print orders/s, latency
    /// percentiles and the oversell check.
    Ingest {
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
        clients: u16,
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        orders: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send signed Shopify webhooks with concurrent clients over loopback into the inbox and on
    /// to orders; print deliveries/s, the answer's latency percentiles and the time from
    /// receipt to the order.
    Webhooks {
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
        clients: u16,
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        deliveries: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Place ORDERS orders, then replay the last day's under a proposed risk rule and routing
    /// rule; print orders replayed per second.
    Replay {
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        orders: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Place ORDERS orders spread over the WEEKS weeks before now, each shipped as it is
    /// placed, then read every location's workload five times; print each read's time.
    Workload {
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        orders: u64,
        #[arg(long, default_value_t = 104, value_parser = clap::value_parser!(u64).range(1..=520))]
        weeks: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forecast and propose replenishment for SKUS made-up SKUs with DAYS of daily history
    /// each, on every core; print the time and peak memory. Needs no database.
    Replenish {
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        skus: u64,
        #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u64).range(28..=3650))]
        days: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Place CHANGES_PER_S orders a second for SECONDS over the API, each reserving a unit of
    /// one of LISTINGS SKUs listed on each of CHANNELS channels (Shopify, WooCommerce, Amazon,
    /// eBay, in that order), pushed to local stand-ins that enforce each channel's documented
    /// limits; print push latency per channel, calls per change, the largest lag, the drift at
    /// the end and the most orders a second the API takes without and with the sync.
    Sync {
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        listings: u64,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=4))]
        channels: u8,
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        changes_per_s: u32,
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        seconds: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reconcile a generated settlement report of LINES rows against its orders (placed
    /// first); print lines/s and peak memory.
    Settlement {
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
        lines: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ImportKindArg {
    Channels,
    Locations,
    Products,
    Listings,
    Customers,
    Suppliers,
    SalesHistory,
}

impl ImportKindArg {
    /// The kind of master data; none for sales history.
    fn master_data(self) -> Option<ImportKind> {
        Some(match self {
            ImportKindArg::Channels => ImportKind::Channels,
            ImportKindArg::Locations => ImportKind::Locations,
            ImportKindArg::Products => ImportKind::Products,
            ImportKindArg::Listings => ImportKind::Listings,
            ImportKindArg::Customers => ImportKind::Customers,
            ImportKindArg::Suppliers => ImportKind::Suppliers,
            ImportKindArg::SalesHistory => return None,
        })
    }
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse("role", value).map_err(|e| e.message)
}

/// Why a command stopped; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    CannotRun(String),
    #[error("{0}")]
    Failed(String),
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Storage(e @ (ordo_app::StorageError::Unavailable(_) | ordo_app::StorageError::Uninitialised(_))) => {
                Failure::CannotRun(e.to_string())
            }
            AppError::Invalid(e) => Failure::CannotRun(e.to_string()),
            other => Failure::Failed(other.to_string()),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(cli.options.clone(), cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            match failure {
                Failure::Config(_) | Failure::CannotRun(_) => ExitCode::from(2),
                Failure::Failed(_) => ExitCode::from(1),
            }
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The database `ordo init` made: one never initialised is refused, naming `ordo init`.
async fn open(config: &Config) -> Result<Ordo, Failure> {
    Ok(Ordo::open_initialised(&config.database_url, &config.storage, config.settings.clone()).await?)
}

/// The database, made or brought up to date: for `init`, `demo` and the benchmarks that build
/// their own.
/// `code`'s connector, when Ordo can call its channel.
async fn push_target(ordo: &Ordo, code: &str) -> Result<ordo_app::PollTarget, Failure> {
    ordo.channels().push_targets().await?.into_iter().find(|t| t.channel == code).ok_or_else(|| {
        Failure::Failed(format!("{code}: Ordo cannot call this channel (no connector, a paused one, or one without API credentials)"))
    })
}

/// The stock client of `code`'s connector, as `ordo serve` would use it.
async fn pusher_for(ordo: &Ordo, code: &str) -> Result<ordo_connectors::Pusher, Failure> {
    let target = push_target(ordo, code).await?;
    let http = ordo_connectors::Http::new().map_err(Failure::CannotRun)?;
    ordo_connectors::Pusher::for_target(&http, &target).map_err(Failure::Failed)
}

/// Push rounds for `code` until nothing is left, or an hour's worth of a channel that keeps
/// throttling.
async fn push_until_done(ordo: &Ordo, code: &str, pusher: &ordo_connectors::Pusher) -> Result<ordo_app::PushRound, Failure> {
    let mut total = ordo_app::PushRound::default();
    for _ in 0..3600 {
        let round = ordo.channels().push_stock(code, pusher).await?;
        total.pushed += round.pushed;
        total.unchanged += round.unchanged;
        total.failed += round.failed;
        total.calls += round.calls;
        if round.claimed == 0 || round.failed == round.claimed {
            break;
        }
        if round.throttled {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    Ok(total)
}

async fn create(config: &Config) -> Result<Ordo, Failure> {
    Ok(Ordo::open(&config.database_url, &config.storage, config.settings.clone()).await?)
}

async fn run(command: Command, config: Config) -> Result<ExitCode, Failure> {
    match command {
        Command::Init { token_file } => init(&config, token_file).await,
        Command::Serve => serve(&config).await,
        Command::Workload { command: Some(WorkloadCommand::Evaluate { csv, zone, calendar, json }), .. } => {
            let report = crate::workload::run(&csv, &zone, calendar.as_deref()).map_err(Failure::CannotRun)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                crate::workload::print(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Workload { command: None, json } => {
            let workloads = open(&config).await?.fulfilment().workload().await?;
            if json {
                say!("{}", serde_json::to_string(&workloads).map_err(|e| Failure::Failed(e.to_string()))?);
                return Ok(ExitCode::SUCCESS);
            }
            for w in &workloads {
                let o = &w.outlook;
                say!("{} ({}): backlog {} parcels, {} lines, {} units", w.location, w.name, o.backlog.parcels, o.backlog.lines, o.backlog.units);
                for d in &o.days {
                    let promoted = if d.promoted { ", promotion" } else { "" };
                    say!("  {}  {:>5} parcels {:>6} lines {:>6} units  {:>3} people{promoted}", d.day.format("%a %Y-%m-%d"), d.work.parcels, d.work.lines, d.work.units, d.people_needed);
                }
                if let Some(risk) = &o.at_risk {
                    say!("  at risk: {} lines due before the {} cut-off, the shift can do {}: {} more people", risk.due_lines, w.cutoff_time, risk.capacity_lines, risk.more_people);
                }
                let shown = |bp: Option<i64>| bp.map_or_else(|| "not enough history".to_owned(), ordo_app::domain::ledger::percentage);
                say!(
                    "  back-test on {} days: WAPE of daily lines {} (the same weekday last week: {})",
                    o.accuracy.days,
                    shown(o.accuracy.wape_bp),
                    shown(o.accuracy.same_weekday_wape_bp)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Anomalies(AnomaliesCommand::Evaluate { csv, json }) => {
            let report = crate::anomalies::run(&csv).map_err(Failure::CannotRun)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                crate::anomalies::print(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Anomalies(AnomaliesCommand::Scan { days, json }) => {
            let scan = open(&config).await?.anomalies().scan(days).await?;
            if json {
                say!("{}", serde_json::to_string(&scan).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                for k in &scan.kinds {
                    say!(
                        "{:<18} {:>6} judged, {} found; of {} resolved so far, {} were not a problem",
                        k.kind, k.judged, k.found, k.resolved, k.not_a_problem
                    );
                }
                for f in &scan.findings {
                    let state = if f.raised { "raised" } else { "raised before" };
                    say!("  {} {} on {}: {}; usual: {}; {}; {state}", f.kind, f.subject, f.day, f.observed, f.baseline, f.strength);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Forecast(ForecastCommand::Evaluate { tsf, csv, period, horizon, json }) => {
            let source = match (&tsf, &csv, period.as_deref().and_then(ordo_forecast::Period::parse)) {
                (Some(file), _, _) => crate::forecasting::Source::Tsf(file),
                (None, Some(file), Some(period)) => crate::forecasting::Source::Csv(file, period),
                _ => return Err(Failure::CannotRun("give --tsf FILE, or --csv FILE with --period day|week|month|quarter".to_owned())),
            };
            let report = crate::forecasting::run(source, horizon.map(|h| h as usize)).map_err(Failure::CannotRun)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                crate::forecasting::print(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tickets(TicketsCommand::Evaluate { csv, train, json }) => {
            let evaluation = crate::triage::evaluate(&csv, train.as_deref()).map_err(Failure::CannotRun)?;
            if json {
                say!("{}", serde_json::to_string(&evaluation).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                crate::triage::print(&evaluation);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { days } => demo(&config, days).await,
        Command::Backup { to } => {
            let started = std::time::Instant::now();
            let backup = crate::backup::backup(&config.database_url, &config.storage, &to).await.map_err(Failure::CannotRun)?;
            let rows: i64 = backup.inventory.tables.values().sum();
            say!(
                "backup of {} written to {} in {:.1} s: {} tables, {rows} rows, audit log to record {}; manifest {}",
                redacted(&config),
                backup.file.display(),
                started.elapsed().as_secs_f64(),
                backup.inventory.tables.len(),
                backup.inventory.audit_seq,
                backup.manifest.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file } => {
            let restored = crate::backup::restore(&file, &config.database_url, &config.storage, config.settings.clone()).await.map_err(Failure::CannotRun)?;
            say!("restored {} into {}: {} tables, {} rows", file.display(), redacted(&config), restored.tables, restored.rows);
            match (&restored.count_mismatches[..], restored.had_manifest) {
                (_, false) => say!("  counts: no manifest beside the file, not compared"),
                ([], true) => say!("  counts: every table as the manifest says"),
                (mismatches, true) => {
                    for (table, kept, now) in mismatches {
                        say!("  counts: {table} has {now} rows, the manifest says {kept}");
                    }
                }
            }
            match &restored.audit {
                AuditVerdict::Intact { records, .. } => say!("  audit log intact: {records} records"),
                AuditVerdict::Broken { seq, problem } => say!("  audit log broken at record {seq}: {problem}"),
            }
            say!("  books: {}", if restored.books_balance { "every entry balances and stock equals the inventory account" } else { "DO NOT BALANCE" });
            Ok(if restored.holds() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Token(TokenCommand::Create { role, name, expires_in_days }) => {
            let expires_at = expires_in_days.map(|days| chrono::Utc::now() + chrono::Duration::days(days));
            let issued = open(&config).await?.access().create_expiring_token(role, &name, expires_at, &Actor::system()).await?;
            say!("{}", issued.token);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rates(RatesCommand::Import { file }) => {
            let xml = std::fs::read_to_string(&file).map_err(|e| Failure::CannotRun(format!("cannot read {}: {e}", file.display())))?;
            let ordo = open(&config).await?;
            let (set, skipped) = ordo.ledger().import_ecb_rates(&xml, &Actor::system()).await?;
            say!("{set} exchange rate{} set into {} from {}", if set == 1 { "" } else { "s" }, ordo.settings().base_currency, file.display());
            for note in skipped {
                say!("  left out: {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::List) => {
            let tokens = open(&config).await?.access().tokens().await?;
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string());
            say!("{:<36}  {:<24}  {:<11}  {:<16}  {:<16}  {:<16}  revoked", "id", "name", "role", "created", "expires", "last used");
            for t in tokens {
                let name: String = t.token.name.chars().take(24).collect();
                say!(
                    "{:<36}  {:<24}  {:<11}  {:<16}  {:<16}  {:<16}  {}",
                    t.token.id,
                    name,
                    t.token.role.as_str(),
                    at(Some(t.token.created_at)),
                    at(t.token.expires_at),
                    at(t.last_used_at),
                    at(t.revoked_at)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Revoke { name, id }) => {
            let ordo = open(&config).await?;
            let revoked = match (id, name) {
                (Some(id), _) => ordo.access().revoke_token(id, &Actor::system()).await.map(|()| 1)?,
                (None, Some(name)) => ordo.access().revoke_tokens_named(&name, &Actor::system()).await?,
                (None, None) => return Err(Failure::Failed("name a token with --name or --id".into())),
            };
            eprintln!("revoked {revoked} token{}", if revoked == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Unlock { username }) => {
            open(&config).await?.access().unlock_user(&username, &Actor::system()).await?;
            eprintln!("{username} may log in again");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Disable { username }) => {
            open(&config).await?.access().set_user_disabled(&username, true, &Actor::system()).await?;
            eprintln!("{username} is disabled; their sessions have ended");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Enable { username }) => {
            open(&config).await?.access().set_user_disabled(&username, false, &Actor::system()).await?;
            eprintln!("{username} is enabled");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Password { username }) => {
            let password = read_password()?;
            open(&config).await?.access().reset_password(&username, &password, &Actor::system()).await?;
            eprintln!("{username} has a new password; their sessions have ended");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Create { username, role }) => {
            let password = read_password()?;
            open(&config).await?.access().create_user(&username, &password, role, &Actor::system()).await?;
            eprintln!("created user {username} with role {role}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { kind, file, skip_invalid } => import(&config, kind, &file, skip_invalid).await,
        Command::Report(report) => {
            let ordo = open(&config).await?;
            // The report is written whole at the end, so a reader that stops early (`| head`)
            // ends it quietly.
            let mut out = csv::Writer::from_writer(Vec::new());
            let failed = |e: csv::Error| Failure::Failed(format!("cannot write the report: {e}"));
            match report {
                ReportCommand::Pnl { period } => {
                    let (currency, pnl) = ordo.ledger().profit_and_loss(ordo_app::Period { from: period.from, to: period.to }).await?;
                    let amount = |minor: ordo_app::domain::money::Total| ordo_app::domain::money::total_decimal(minor, currency);
                    out.write_record(["section", "code", "name", "amount", "currency"]).map_err(failed)?;
                    for (section, rows) in [("revenue", &pnl.revenue), ("expense", &pnl.expenses)] {
                        for (code, name, minor) in rows {
                            out.write_record([section, code, name, &amount(*minor), currency.code()]).map_err(failed)?;
                        }
                    }
                    out.write_record(["net income", "", "", &amount(pnl.net_income()), currency.code()]).map_err(failed)?;
                }
                ReportCommand::Gl { account, period } => {
                    let period = ordo_app::Period { from: period.from, to: period.to };
                    let currency = ordo.settings().base_currency;
                    let amount = |minor: ordo_app::domain::money::Total| ordo_app::domain::money::total_decimal(minor, currency);
                    out.write_record(["posted_at", "source", "memo", "debit", "credit", "balance", "currency"]).map_err(failed)?;
                    let mut offset = 0;
                    loop {
                        let page = ordo.ledger().account_ledger(&account, period, 5_000, offset).await?;
                        if offset == 0 {
                            out.write_record(["", "opening balance", "", "", "", &amount(page.opening), currency.code()]).map_err(failed)?;
                        }
                        for l in &page.lines {
                            let at = l.posted_at.to_rfc3339();
                            out.write_record([&at, &l.source, &l.memo, &amount(l.debit.into()), &amount(l.credit.into()), &amount(l.balance), currency.code()])
                                .map_err(failed)?;
                        }
                        if page.lines.len() < 5_000 {
                            break;
                        }
                        offset += 5_000;
                    }
                }
                ReportCommand::Profitability { by, period } => {
                    let period = ordo_app::Period { from: period.from, to: period.to };
                    let ((currency, margins), key) = match by {
                        Breakdown::Channel => (ordo.ledger().profitability_by_channel(period).await?, "channel"),
                        Breakdown::Sku => (ordo.ledger().profitability_by_sku(period).await?, "sku"),
                        Breakdown::Segment => (ordo.ledger().profitability_by_segment(period).await?, "segment"),
                    };
                    let amount = |minor: ordo_app::domain::money::Total| ordo_app::domain::money::total_decimal(minor, currency);
                    out.write_record([key, "revenue", "refunds", "cost_of_goods", "fees", "shipping_cost", "contribution", "margin_percent", "currency"])
                        .map_err(failed)?;
                    for m in margins {
                        let percent = m.margin_bp().map(ordo_app::domain::ledger::percent);
                        out.write_record([
                            m.key.as_str(),
                            &amount(m.revenue),
                            &amount(m.refunds),
                            &amount(m.cost_of_goods),
                            &amount(m.fees),
                            &amount(m.shipping_cost),
                            &amount(m.contribution()),
                            percent.as_deref().unwrap_or(""),
                            currency.code(),
                        ])
                        .map_err(failed)?;
                    }
                }
                ReportCommand::Review { period } => return print_review(&ordo, period).await,
            }
            let report = out.into_inner().map_err(|e| Failure::Failed(format!("cannot write the report: {e}")))?;
            crate::out(&report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Checkpoint { dir, url }) => {
            let checkpoint = open(&config).await?.audit().audit_checkpoint().await?;
            if let Some(dir) = dir {
                let path = crate::checkpoints::write(&dir, &checkpoint).map_err(Failure::CannotRun)?;
                say!("checkpoint of record {} written to {}", checkpoint.seq, path.display());
            }
            if let Some(url) = url {
                crate::checkpoints::send(&url, &checkpoint).await.map_err(Failure::CannotRun)?;
                say!("checkpoint of record {} sent to {url}", checkpoint.seq);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify { checkpoints }) => {
            let ordo = open(&config).await?;
            let checkpoints = match checkpoints {
                Some(dir) => crate::checkpoints::read(&dir).map_err(Failure::CannotRun)?,
                None => Vec::new(),
            };
            match ordo.audit().verify_audit_against(&checkpoints).await? {
            AuditVerdict::Intact { records, keyed, checkpoints } => {
                say!("audit log intact: {records} record{}", if records == 1 { "" } else { "s" });
                if keyed < records {
                    say!("  {} record{} hashed without the audit key: anyone who can write to the database could recompute {}", records - keyed, if records - keyed == 1 { " is" } else { "s are" }, if records - keyed == 1 { "it" } else { "them" });
                }
                if checkpoints > 0 {
                    say!("  every one of {checkpoints} signed checkpoint{} found unchanged", if checkpoints == 1 { "" } else { "s" });
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditVerdict::Broken { seq, problem } => {
                say!("audit log broken at record {seq}: {problem}");
                Ok(ExitCode::from(1))
            }
            }
        }
        Command::Rules(RulesCommand::Simulate { versions, days, json }) => {
            let simulation = open(&config).await?.rules().simulate_rules(&versions, days).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&simulation).map_err(|e| Failure::Failed(e.to_string()))?);
                return Ok(ExitCode::SUCCESS);
            }
            say!("replayed {} orders of the last {} days with {}", simulation.orders, days, simulation.proposed.join(", "));
            for (what, change) in [
                ("newly held", &simulation.newly_held),
                ("no longer held", &simulation.no_longer_held),
                ("routed elsewhere", &simulation.routed_elsewhere),
                ("split changed", &simulation.split_changed),
                ("tags changed", &simulation.tags_changed),
                ("could not decide", &simulation.errors),
            ] {
                say!("{what}: {}", change.count);
                for e in &change.examples {
                    say!("  {} {} ({}): {} -> {}", e.channel, e.external_id, e.order_id, e.before, e.after);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Replenish { skus, days, json }) => {
            let report = crate::bench::replenish(skus as usize, days as usize).map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                let methods: Vec<String> = report.methods.iter().map(|(m, n)| format!("{m} {n}")).collect();
                say!(
                    "replenish: {} SKUs × {} days on {} threads in {:.2} s = {:.0} SKUs/s; {} proposals; peak memory {:.0} MiB; SKUs pooling each method: {}",
                    report.skus, report.days, report.threads, report.seconds, report.skus_per_second, report.proposals, report.peak_memory_mib, methods.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Workload { orders, weeks, json }) => {
            let report = crate::bench::workload(create(&config).await?, orders, weeks).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                let reads: Vec<String> = report.read_ms.iter().map(|ms| format!("{ms:.0}")).collect();
                say!(
                    "workload on {}: {} orders over {} weeks placed and shipped in {:.1} s; {} of them in the weeks read; every location's workload read in {} ms",
                    report.engine, report.orders, report.weeks, report.placing_seconds, report.read_orders, reads.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Replay { orders, json }) => {
            let report = crate::bench::replay(create(&config).await?, orders).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                say!(
                    "replay on {}: {} orders in {:.2} s = {:.0} orders/s; newly held {}, routed elsewhere {}",
                    report.engine, report.orders, report.seconds, report.orders_per_second, report.newly_held, report.routed_elsewhere
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Channel(ChannelCommand::Resync { code }) => {
            let ordo = open(&config).await?;
            let marked = ordo.channels().resync_stock(&code, &ordo_app::Actor::system()).await?;
            let pusher = pusher_for(&ordo, &code).await?;
            let total = push_until_done(&ordo, &code, &pusher).await?;
            say!("{code}: {marked} listings; told {} in {} calls, {} refused", total.pushed, total.calls, total.failed);
            Ok(if total.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Channel(ChannelCommand::Resend { code, order }) => {
            let ordo = open(&config).await?;
            let resent = ordo.channels().resend_confirmations(&code, order, &ordo_app::Actor::system()).await?;
            let http = ordo_connectors::Http::new().map_err(Failure::CannotRun)?;
            let confirmer = ordo_connectors::Confirmer::for_target(&http, &push_target(&ordo, &code).await?).map_err(Failure::Failed)?;
            let round = ordo.channels().confirm_orders(&code, &confirmer).await?;
            say!("{code}: {resent} confirmations sent again; {} taken, {} refused, {} failed", round.confirmed, round.refused, round.failed);
            Ok(if round.refused == 0 && round.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Channel(ChannelCommand::Reconcile { code }) => {
            let ordo = open(&config).await?;
            let pusher = pusher_for(&ordo, &code).await?;
            let drift = ordo.channels().reconcile_stock(&code, &pusher, &ordo_app::Actor::system()).await.map_err(|e| Failure::Failed(e.to_string()))?;
            for d in &drift.differing {
                let shows = d.channel_shows.map_or_else(|| "nothing (not listed there)".to_owned(), |n| n.to_string());
                say!("  {:<24} the channel shows {shows}, Ordo can sell {}", d.channel_sku, d.ordo_can_sell);
            }
            let total = push_until_done(&ordo, &code, &pusher).await?;
            say!(
                "{code}: {} listings compared, {} differed; told {} in {} calls, {} refused",
                drift.checked,
                drift.differing.len(),
                total.pushed,
                total.calls,
                total.failed
            );
            Ok(if total.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Channel(ChannelCommand::Replay { code, delivery }) => {
            let ordo = open(&config).await?;
            let actor = ordo_app::Actor::system();
            let replayed = match delivery {
                Some(id) => ordo.channels().replay_delivery(&code, id, &actor).await.map(|_| 1)?,
                None => ordo.channels().replay_failed(&code, &actor).await?,
            };
            let mut total = ordo_app::InboxRound::default();
            loop {
                let round = ordo.channels().process_inbox(ordo_app::MAX_INBOX_CLAIM).await?;
                if round.claimed == 0 {
                    break;
                }
                total.processed += round.processed;
                total.ignored += round.ignored;
                total.failed += round.failed;
            }
            say!(
                "{code}: {replayed} deliver{} replayed; processed {}, ignored {}, failed again {}",
                if replayed == 1 { "y" } else { "ies" },
                total.processed,
                total.ignored,
                total.failed
            );
            Ok(if total.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Settlement(SettlementCommand::Import { channel, file }) => {
            let bytes = std::fs::read(&file).map_err(|e| Failure::CannotRun(format!("cannot read {}: {e}", file.display())))?;
            let content = ordo_app::domain::settlement::decode(&bytes);
            let imported = open(&config).await?.settlements().import_settlement(&channel, &content, &ordo_app::Actor::system()).await?;
            if imported.already_imported {
                say!("settlement {} of {channel} was imported before: nothing changed", imported.external_id);
            }
            say!(
                "settlement {} ({}): {} line{}, total {} {}; matched {}, unmatched {}, exceptions raised {}",
                imported.external_id,
                imported.format,
                imported.lines,
                if imported.lines == 1 { "" } else { "s" },
                imported.total.to_decimal_string(),
                imported.total.currency(),
                imported.matched,
                imported.unmatched,
                imported.exceptions
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Webhooks { clients, deliveries, json }) => {
            let ordo = create(&config).await?;
            let report = crate::bench::webhooks(ordo, usize::from(clients), deliveries).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                say!(
                    "webhooks on {}: {} deliveries from {} clients in {:.2} s = {:.0} deliveries/s; answer p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; \
                     receipt to order p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; orders made {}; failed {}; oversells {}",
                    report.engine, report.deliveries, report.clients, report.seconds, report.deliveries_per_second,
                    report.p50_ms, report.p95_ms, report.p99_ms, report.to_order_p50_ms, report.to_order_p99_ms,
                    report.to_order_max_ms, report.orders_made, report.failed, report.oversells
                );
            }
            Ok(if report.oversells == 0 && report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Bench(BenchCommand::Sync { listings, channels, changes_per_s, seconds, json }) => {
            let ordo = create(&config).await?;
            let listings = usize::try_from(listings).map_err(|e| Failure::CannotRun(e.to_string()))?;
            let report = crate::bench::sync(ordo, listings, usize::from(channels), changes_per_s, seconds).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                say!(
                    "sync on {}: {} SKUs on {} channels, {} orders (stock changes) in {} s ({}/s asked); most orders/s the API takes: {:.0} alone, {:.0} beside the stream, {:.0} beside the stream and the sync ({:+.1} % for the sync)",
                    report.engine, report.listings, report.channels.len(), report.changes, report.seconds, report.changes_per_s,
                    report.intake_alone_per_s, report.intake_with_changes_per_s, report.intake_during_sync_per_s,
                    (report.intake_during_sync_per_s / report.intake_with_changes_per_s.max(f64::EPSILON) - 1.0) * 100.0
                );
                for c in &report.channels {
                    say!(
                        "  {:<12} {:<11} latency p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms; {} listings told in {} calls ({:.3} calls per change, {} throttled); largest lag {:.0} s; drift at the end {} ({} still waiting)",
                        c.channel, c.kind, c.p50_ms, c.p95_ms, c.p99_ms, c.pushed, c.calls, c.calls_per_change, c.throttled, c.largest_lag_s, c.drift, c.pending_at_end
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Ingest { clients, orders, json }) => {
            let ordo = create(&config).await?;
            let report = crate::bench::ingest(ordo, usize::from(clients), orders).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                say!(
                    "ingest on {}: {} orders from {} clients in {:.2} s = {:.0} orders/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; failed {}; oversells {}",
                    report.engine, report.orders, report.clients, report.seconds, report.orders_per_second,
                    report.p50_ms, report.p95_ms, report.p99_ms, report.failed, report.oversells
                );
            }
            Ok(if report.oversells == 0 && report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Bench(BenchCommand::Settlement { lines, json }) => {
            let ordo = create(&config).await?;
            let lines = usize::try_from(lines).map_err(|e| Failure::CannotRun(e.to_string()))?;
            let report = crate::bench::settlement(ordo, lines).await.map_err(Failure::Failed)?;
            if json {
                say!("{}", serde_json::to_string(&report).map_err(|e| Failure::Failed(e.to_string()))?);
            } else {
                say!(
                    "settlement on {}: {} lines ({:.0} MiB) against {} orders in {:.2} s = {:.0} lines/s; matched {}, exceptions {}; memory {:.0} MiB before, peak {:.0} MiB",
                    report.engine, report.lines, report.report_bytes as f64 / 1_048_576.0, report.orders, report.seconds,
                    report.lines_per_second, report.matched, report.exceptions, report.rss_before_mib, report.peak_rss_mib
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn init(config: &Config, token_file: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let ordo = create(config).await?;
    let Some(issued) = ordo.access().create_bootstrap_token().await? else {
        eprintln!("database {} is up to date; its bootstrap token was issued before", redacted(config));
        return Ok(ExitCode::SUCCESS);
    };
    match token_file {
        Some(path) => {
            write_secret(&path, &issued.token)
                .map_err(|e| Failure::CannotRun(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("database {} ready; bootstrap admin token written to {}", redacted(config), path.display());
        }
        None => {
            eprintln!("database {} ready; bootstrap admin token (shown once):", redacted(config));
            say!("{}", issued.token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a secret readable by its owner only.
fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{secret}")
}

fn read_password() -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as you type): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::CannotRun(format!("cannot read the password from standard input: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn serve(config: &Config) -> Result<ExitCode, Failure> {
    let ordo = open(config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Failure::CannotRun(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener.local_addr().map_err(|e| Failure::CannotRun(e.to_string()))?;
    let options = HttpOptions {
        request_timeout: config.request_timeout,
        body_limit_bytes: config.body_limit_bytes,
        secure_cookies: config.secure_cookies,
    };
    tracing::info!(database = %redacted(config), "serving");
    // Scripts and tests read this line to learn the port when asked for port 0; a server whose
    // output nobody reads serves all the same.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ordo listening on http://{address}").and_then(|()| out.flush());
    drop(out);
    let watcher = tokio::spawn(serve::watch_the_clock(ordo.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let inbox = serve::process_inbox(&ordo, &stopped);
    let pollers = {
        // This machine and address: another process's lease is told apart from this one's,
        // and this one restarted at the same address takes its own lease back at once.
        let holder = format!("{}/{address}", serve::host_name());
        tokio::spawn(serve::poll_channels(ordo.clone(), holder, stopped.clone()))
    };
    let pushers = tokio::spawn(serve::push_to_channels(ordo.clone(), stopped.clone(), None));
    let backups = config.backups.clone().map(|plan| tokio::spawn(serve::back_up(config.database_url.clone(), config.storage.clone(), plan, stopped.clone())));
    let checkpoints = config.audit_checkpoints.clone().map(|plan| tokio::spawn(serve::checkpoint_audit(ordo.clone(), plan, stopped.clone())));
    // Webhooks leave through the HTTPS client the connectors use.
    let webhooks: std::sync::Arc<dyn ordo_app::WebhookClient> = std::sync::Arc::new(ordo_connectors::Http::new().map_err(Failure::CannotRun)?);
    let couriers: Vec<_> = (0..config.outbox_workers)
        .map(|n| {
            let courier = ordo_app::Courier::new(format!("{address}/{n}"), config.notification_log.clone(), webhooks.clone());
            let ordo = ordo.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { ordo.outbox().run_courier(courier, std::time::Duration::from_secs(1), stopped).await })
        })
        .collect();
    serve::run(listener, serve::app(ordo.clone(), &options))
        .await
        .map_err(|e| Failure::Failed(format!("server stopped: {e}")))?;
    watcher.abort();
    // A try in flight finishes and is recorded; what is still due waits in the outbox.
    let _ = stop.send(true);
    for courier in couriers {
        let _ = courier.await;
    }
    for processor in inbox {
        let _ = processor.await;
    }
    let _ = pollers.await;
    let _ = pushers.await;
    if let Some(checkpoints) = checkpoints {
        let _ = checkpoints.await;
    }
    if let Some(backups) = backups {
        backups.abort();
    }
    ordo.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints the operating review as text, section by section.
async fn print_review(ordo: &ordo_app::Ordo, period: ReviewPeriodArg) -> Result<ExitCode, Failure> {
    let (period, name) = match period {
        ReviewPeriodArg::Week => (ordo_app::ReviewPeriod::Week, "Weekly"),
        ReviewPeriodArg::Month => (ordo_app::ReviewPeriod::Month, "Monthly"),
    };
    let review = ordo.reports().review(period).await?;
    let mut text = format!("{name} review, {} to {}\n", review.from, review.to);
    for section in review.sections() {
        text.push_str(&format!("\n{}\n", section.title));
        for (label, value) in section.lines {
            text.push_str(&format!("  {label}: {value}\n"));
        }
    }
    crate::out(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

fn redacted(config: &Config) -> String {
    ordo_app::redact_url(&config.database_url)
}

/// A progress bar on a terminal; nothing when standard error is not one.
struct Bar(ProgressBar);

impl Bar {
    fn new(message: &'static str) -> Bar {
        let bar = ProgressBar::hidden();
        if std::io::stderr().is_terminal() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message);
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, steps: u64) {
        self.0.set_length(steps);
        self.0.set_position(0);
    }
    fn advance(&self) {
        self.0.inc(1);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

async fn import(config: &Config, kind: ImportKindArg, file: &std::path::Path, skip_invalid: bool) -> Result<ExitCode, Failure> {
    let data = std::fs::read(file).map_err(|e| Failure::CannotRun(format!("cannot read {}: {e}", file.display())))?;
    let ordo = open(config).await?;
    let options = ImportOptions { skip_invalid };
    let (report, what) = match kind.master_data() {
        Some(kind) => {
            let bar = Bar::new("importing");
            (ordo.master_data().import_csv(kind, &data, options, &bar, &Actor::system()).await?, kind.as_str())
        }
        None => (ordo.procurement().import_sales_history(&data, options, &Actor::system()).await?, "sales history rows"),
    };
    for error in &report.errors {
        eprintln!("{}: {error}", file.display());
    }
    if !report.errors.is_empty() && !skip_invalid {
        eprintln!(
            "{} of {} rows are bad; nothing was imported (fix them, or pass --skip-invalid to import the rest)",
            report.errors.len(),
            report.rows
        );
        return Ok(ExitCode::from(1));
    }
    say!("imported {} {what} of {} rows; {} skipped", report.imported, report.rows, report.errors.len());
    Ok(ExitCode::SUCCESS)
}

/// The demo's customer system: a webhook receiver on 127.0.0.1 that turns away every fifth
/// message with a 503, as a busy service does, so the outbox's retries show.
async fn flaky_receiver() -> Result<String, Failure> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::CannotRun(format!("cannot start the demo's webhook receiver: {e}")))?;
    let address = listener.local_addr().map_err(|e| Failure::CannotRun(e.to_string()))?;
    let seen = std::sync::Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || {
            let n = seen.fetch_add(1, Ordering::Relaxed);
            async move { if n % 5 == 4 { axum::http::StatusCode::SERVICE_UNAVAILABLE } else { axum::http::StatusCode::NO_CONTENT } }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/hooks"))
}

async fn demo(config: &Config, days: u32) -> Result<ExitCode, Failure> {
    let ordo = create(config).await?;
    let receiver = flaky_receiver().await?;
    let summary = {
        let bar = Bar::new("building");
        ordo_demo::build_demo(&ordo, days, Some(&receiver), std::sync::Arc::new(ordo_connectors::Http::new().map_err(Failure::CannotRun)?), &bar).await?
    };
    let classes: Vec<String> = summary.products_by_class.iter().map(|(class, n)| format!("{n} {}", class.as_str())).collect();
    let products: usize = summary.products_by_class.iter().map(|(_, n)| n).sum();
    say!("Ordo demo: a home-accessories retailer, built in {}", redacted(config));
    say!("  channels   {}", summary.channels.join(", "));
    if config.settings.secret_key.is_none() {
        say!(
            "             (connector secrets sealed with the demo's own key: serve with ORDO_SECRET_KEY={} to take their webhooks)",
            ordo_demo::DEMO_SECRET_KEY
        );
    }
    say!("  locations  {}", summary.locations.join(", "));
    say!("  products   {products} SKUs ({})", classes.join(", "));
    say!("  listings   {}", summary.listings);
    say!("  customers  {}", summary.customers);
    say!("  suppliers  {}", summary.suppliers);
    say!(
        "  stock      {} units on hand, valued at {} {}",
        summary.units_on_hand,
        summary.stock_value.to_decimal_string(),
        summary.stock_value.currency()
    );
    say!("  users      {} (one per role)", summary.users.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", "));
    let t = &summary.trading;
    let by_channel: Vec<String> = t.orders_by_channel.iter().map(|(channel, n)| format!("{channel} {n}")).collect();
    let fill = t.fill_rate_per_mille();
    say!("  trading    {} days, {} orders ({})", t.days, t.orders(), by_channel.join(", "));
    let c = &t.channels;
    say!(
        "  channels   {} signed webhook deliveries (Shopify, WooCommerce), {} duplicates dropped; {} Amazon orders in {} SP-API pages; {} mapped, {} waiting as channel_mapping exceptions",
        c.deliveries, c.duplicates, c.polled, c.pages, c.mapped, c.exceptions
    );
    for s in &t.stock_out {
        say!(
            "  stock out  {:<7} {} listings told in {} calls for {} stock changes ({} calls saved by coalescing, {} refused for the rate limit); p95 {}; {} waiting, {} differing{}",
            s.channel,
            s.pushed,
            s.calls,
            s.changes,
            (s.changes - s.calls as i64).max(0),
            s.throttled,
            s.p95_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms} ms")),
            s.pending,
            s.differing,
            if s.lagging { "; sync_lag open" } else { "" }
        );
    }
    say!("  fill rate  {}.{}% of orders fully reserved on arrival", fill / 10, fill % 10);
    say!("  reviews    {} held for review, {} released; {} cancelled by customers", t.held, t.released, t.cancelled);
    // Each planted anomaly, whether the scan found it, and what else of its kind it found.
    for kind in ordo_app::ANOMALY_KINDS.map(|k| k.as_str()) {
        let findings: Vec<&ordo_app::Finding> = t.anomalies.iter().filter(|f| f.kind == kind).collect();
        let planted: Vec<&ordo_demo::Planted> = t.planted.iter().filter(|p| p.kind == kind).collect();
        let is_planted = |f: &ordo_app::Finding| planted.iter().any(|p| p.subject == f.subject && p.day == f.day);
        let others = findings.iter().filter(|f| !is_planted(f)).count();
        for p in &planted {
            match findings.iter().find(|f| f.subject == p.subject && f.day == p.day) {
                Some(f) => say!("  anomalies  {kind}: {} on {} was found ({}); {others} other findings", p.what, p.day, f.observed),
                None => say!("  anomalies  {kind}: {} on {} was NOT found; {others} other findings", p.what, p.day),
            }
        }
        if planted.is_empty() && others > 0 {
            say!("  anomalies  {kind}: nothing planted; {others} other findings");
        }
    }
    // What each site faces tomorrow, and how far off the forecast was on the days traded.
    for w in ordo.fulfilment().workload().await? {
        let Some(tomorrow) = w.outlook.days.get(1) else { continue };
        let error = |bp: Option<i64>| bp.map_or_else(|| "not enough history".to_owned(), ordo_app::domain::ledger::percentage);
        say!(
            "  workload   {} tomorrow: {} parcels, {} lines, {} needed; back-tested error {} (same weekday last week: {})",
            w.location,
            tomorrow.work.parcels,
            tomorrow.work.lines,
            if tomorrow.people_needed == 1 { "1 person".to_owned() } else { format!("{} people", tomorrow.people_needed) },
            error(w.outlook.accuracy.wape_bp),
            error(w.outlook.accuracy.same_weekday_wape_bp)
        );
    }
    say!("  supply     {} deliveries cleared backorders; {} stockouts raised", t.receipts, t.stockouts_raised);
    say!("  shipping   {} waves, {} parcels, {} delivered", t.waves, t.shipments, t.delivered);
    let on_time = t.on_time_per_mille();
    say!(
        "  SLA        {}.{}% of {} fully shipped orders left by their ship-by time",
        on_time / 10,
        on_time % 10,
        t.shipped_orders
    );
    say!("  oversells  {}", t.oversells);
    if let Some(balance) = &t.trial_balance {
        say!(
            "  ledger     trial balance {} debit = {} credit {}; inventory account equals stock at cost: {}",
            ordo_app::domain::money::total_decimal(balance.total_debit, balance.currency),
            ordo_app::domain::money::total_decimal(balance.total_credit, balance.currency),
            balance.currency,
            if t.books_hold { "yes" } else { "NO" }
        );
    }
    if let Some(balance) = &t.trial_balance {
        let currency = balance.currency;
        let margins: Vec<String> = t
            .margins
            .iter()
            .map(|m| {
                let contribution = ordo_app::domain::money::total_decimal(m.contribution(), currency);
                let percent = m.margin_bp().map_or_else(String::new, |bp| format!(" ({} %)", ordo_app::domain::ledger::percent(bp)));
                format!("{} {contribution}{percent}", m.key)
            })
            .collect();
        say!("  margin     contribution by channel in {currency}: {}", if margins.is_empty() { "none yet".to_owned() } else { margins.join(", ") });
    }
    let reconciliation = t.exceptions.iter().find(|c| c.kind == "reconciliation").map_or(0, |c| c.all);
    say!(
        "  settled    {} marketplace settlements, {} lines, {} matched to orders; {} reconciliation exceptions found",
        t.settlements, t.settlement_lines, t.settlement_matched, reconciliation
    );
    let service = &t.service;
    let reasons: Vec<String> = service.by_reason.iter().map(|(reason, n)| format!("{} {n}", reason.replace('_', " "))).collect();
    say!(
        "  returns    {} asked ({} authorised by policy, {} rejected): {}",
        service.returns,
        service.authorized_by_policy,
        service.rejected,
        reasons.join(", ")
    );
    let dispositions: Vec<String> = service.dispositions.iter().map(|(d, n)| format!("{} {n}", d.replace('_', " "))).collect();
    say!(
        "  inspected  {}; {} refunds, {} replacements",
        if dispositions.is_empty() { "none yet".to_owned() } else { dispositions.join(", ") },
        service.refunds,
        service.replacements
    );
    say!("  helpdesk   {} tickets, {} solved, {} photos attached", service.tickets, service.tickets_solved, service.attachments);
    say!(
        "  notices    {} delivered, {} tries failed and were retried, {} dead letters",
        service.delivered, service.retried, service.dead
    );
    say!(
        "  history    {} days of the old system's sales imported ({} units), so forecasts are back-tested from the first day",
        t.old_sales.days, t.old_sales.units
    );
    let buying = &t.buying;
    say!(
        "  buying     {} proposals into {} purchase orders; {} received, {} billed ({} disputed)",
        buying.proposals, buying.purchase_orders, buying.received, buying.billed, buying.disputed
    );
    match buying.accuracy {
        Some((skus, mase, rmsse, bias)) => say!(
            "  forecasts  last week's, on {skus} A SKUs: MASE {mase:.3}, RMSSE {rmsse:.3}, bias {:+.1}%",
            bias * 100.0
        ),
        None => say!("  forecasts  not scored: the demo needs at least 9 days"),
    }
    let exceptions: Vec<String> = t.exceptions.iter().map(|c| format!("{} {} ({} open)", c.kind, c.all, c.unresolved)).collect();
    say!("  exceptions {}", if exceptions.is_empty() { "none".to_owned() } else { exceptions.join(", ") });
    say!();
    say!("Serve the dashboard on this data:");
    say!("  cargo run --release -- serve --database {} --listen 127.0.0.1:8080", config.database_url);
    say!("then open http://127.0.0.1:8080/login as user \"ops\" (or any role name) with password \"{}\".", ordo_demo::DEMO_PASSWORD);
    Ok(ExitCode::SUCCESS)
}

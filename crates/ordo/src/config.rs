//! Configuration: command-line flags over `ORDO_*` environment variables over an optional
//! TOML file over defaults. `ordo.example.toml` at the repository root lists every option;
//! a test keeps it complete.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ordo_app::domain::risk::RiskPolicy;
use ordo_app::domain::Currency;
use ordo_app::{Settings, SqliteDurability, StorageOptions};
use serde::Deserialize;

/// Every option, each settable as a flag, an environment variable or a key in the file.
/// `None` means "not given here".
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://ordo.db]
    #[arg(long = "database", env = "ORDO_DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Address `ordo serve` listens on [default: 127.0.0.1:8080]
    #[arg(long, env = "ORDO_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// ISO 4217 currency of costs and the ledger [default: USD]
    #[arg(long, env = "ORDO_BASE_CURRENCY", global = true, value_name = "CODE")]
    pub base_currency: Option<String>,
    /// SQLite durability: full (a commit survives power loss) or normal (faster) [default: full]
    #[arg(long, env = "ORDO_SQLITE_SYNCHRONOUS", global = true, value_name = "full|normal")]
    pub sqlite_synchronous: Option<String>,
    /// How long a SQLite writer waits for the lock, in milliseconds [default: 5000]
    #[arg(long, env = "ORDO_BUSY_TIMEOUT_MS", global = true, value_name = "MS")]
    pub busy_timeout_ms: Option<u64>,
    /// Database connections per process [default: 10]
    #[arg(long, env = "ORDO_MAX_CONNECTIONS", global = true, value_name = "N")]
    pub max_connections: Option<u32>,
    /// Longest time one HTTP request may take, in seconds [default: 30]
    #[arg(long, env = "ORDO_REQUEST_TIMEOUT_SECS", global = true, value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Largest HTTP request body, in bytes [default: 1048576]
    #[arg(long, env = "ORDO_BODY_LIMIT_BYTES", global = true, value_name = "BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// How long a dashboard log-in lasts, in hours [default: 12]
    #[arg(long, env = "ORDO_SESSION_HOURS", global = true, value_name = "HOURS")]
    pub session_hours: Option<u64>,
    /// Mark the session cookie Secure, so browsers send it over HTTPS only; turn off only to
    /// serve plain HTTP on a private network [default: true, false when listening on loopback]
    #[arg(long, env = "ORDO_SECURE_COOKIES", global = true, value_name = "BOOL")]
    pub secure_cookies: Option<bool>,
    /// A new database's initial risk rules: hold orders whose payment is not captured [default: true]
    #[arg(long, env = "ORDO_RISK_HOLD_UNCAPTURED", global = true, value_name = "BOOL")]
    pub risk_hold_uncaptured: Option<bool>,
    /// A new database's initial risk rules: hold orders billed abroad [default: true]
    #[arg(long, env = "ORDO_RISK_HOLD_COUNTRY_MISMATCH", global = true, value_name = "BOOL")]
    pub risk_hold_country_mismatch: Option<bool>,
    /// A new database's initial risk rules: hold orders worth more than this many times the channel's average; 0 = never [default: 5]
    #[arg(long, env = "ORDO_RISK_VALUE_FACTOR", global = true, value_name = "N")]
    pub risk_value_factor: Option<u32>,
    /// An unshipped order this close to its ship-by time is a shipment at risk, in hours [default: 4]
    #[arg(long, env = "ORDO_AT_RISK_HOURS", global = true, value_name = "HOURS")]
    pub at_risk_hours: Option<u64>,
    /// How far a settlement may pay an order off its total before it is an exception, in
    /// minor units of the settlement's currency [default: 5]
    #[arg(long, env = "ORDO_SETTLEMENT_TOLERANCE_MINOR", global = true, value_name = "UNITS")]
    pub settlement_tolerance_minor: Option<u32>,
    /// Fee rates a channel is expected to charge, as a percentage range of what an order sold
    /// for, such as 0-25 [default: 0-25]
    #[arg(long, env = "ORDO_SETTLEMENT_FEE_RATE", global = true, value_name = "LOW-HIGH")]
    pub settlement_fee_rate: Option<String>,
    /// Channels' own fee ranges, such as "amazon=8-20,wayfair=10-25" [default: none]
    #[arg(long, env = "ORDO_SETTLEMENT_FEE_RATES", global = true, value_name = "CHANNEL=LOW-HIGH,…")]
    pub settlement_fee_rates: Option<String>,
    /// Delivery tasks each `ordo serve` runs for the outbox [default: 2]
    #[arg(long, env = "ORDO_OUTBOX_WORKERS", global = true, value_name = "N")]
    pub outbox_workers: Option<u32>,
    /// Tries at delivering a notification before it is dead and needs a person [default: 10]
    #[arg(long, env = "ORDO_OUTBOX_MAX_ATTEMPTS", global = true, value_name = "N")]
    pub outbox_max_attempts: Option<u32>,
    /// The wait after a notification's first failed try, doubling after each next one, in
    /// milliseconds [default: 10000]
    #[arg(long, env = "ORDO_OUTBOX_FIRST_RETRY_MS", global = true, value_name = "MS")]
    pub outbox_first_retry_ms: Option<u64>,
    /// Where `log` notification endpoints append their messages as JSON lines [default: the
    /// server's own log]
    #[arg(long, env = "ORDO_NOTIFICATION_LOG", global = true, value_name = "FILE")]
    pub notification_log: Option<PathBuf>,
    /// The key connector secrets are sealed with at rest, at least 32 characters; without it
    /// Ordo refuses to store a connector's webhook secrets or credentials [default: none]
    #[arg(long, env = "ORDO_SECRET_KEY", global = true, value_name = "TEXT", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The secret EasyPost signs its tracking webhooks with (`POST /webhooks/easypost`);
    /// without it every tracking webhook is refused [default: none]
    #[arg(long, env = "ORDO_EASYPOST_WEBHOOK_SECRET", global = true, value_name = "TEXT", hide_env_values = true)]
    pub easypost_webhook_secret: Option<String>,
    /// The key the audit chain is hashed with (HMAC-SHA256) and its checkpoints signed with
    /// (Ed25519), at least 32 characters; kept out of the database. Without it the chain is
    /// plain SHA-256 [default: none]
    #[arg(long, env = "ORDO_AUDIT_KEY", global = true, value_name = "TEXT", hide_env_values = true)]
    pub audit_key: Option<String>,
    /// Where `ordo serve` writes a signed checkpoint of the audit chain's head, every
    /// `audit_checkpoint_minutes` [default: none, no scheduled checkpoints]
    #[arg(long, env = "ORDO_AUDIT_CHECKPOINT_DIR", global = true, value_name = "DIR")]
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// Where `ordo serve` posts each scheduled checkpoint as JSON (another system that keeps
    /// them), besides or instead of the folder [default: none]
    #[arg(long, env = "ORDO_AUDIT_CHECKPOINT_URL", global = true, value_name = "URL")]
    pub audit_checkpoint_url: Option<String>,
    /// Minutes between scheduled audit checkpoints [default: 60]
    #[arg(long, env = "ORDO_AUDIT_CHECKPOINT_MINUTES", global = true, value_name = "MINUTES")]
    pub audit_checkpoint_minutes: Option<u64>,
    /// How often `ordo serve` backs the database up into `backup_dir`: a number and a unit,
    /// such as 30m, 6h or 1d [default: none, no scheduled backups]
    #[arg(long, env = "ORDO_BACKUP_EVERY", global = true, value_name = "DURATION")]
    pub backup_every: Option<String>,
    /// Where scheduled backups go [default: backups, beside the current folder]
    #[arg(long, env = "ORDO_BACKUP_DIR", global = true, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How many scheduled backups to keep; older ones are deleted [default: 7]
    #[arg(long, env = "ORDO_BACKUP_KEEP", global = true, value_name = "N")]
    pub keep: Option<u64>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "ORDO_LOG_FORMAT", global = true, value_name = "text|json")]
    pub log_format: Option<String>,
    /// Log filter in tracing's syntax, such as "info" or "ordo=debug,sqlx=warn" [default: info]
    #[arg(long, env = "ORDO_LOG", global = true, value_name = "FILTER")]
    pub log_filter: Option<String>,
}

macro_rules! merge {
    ($high:expr, $low:expr, $($field:ident),+) => {
        Options { $($field: $high.$field.or($low.$field),)+ }
    };
}

impl Options {
    /// These options, with `lower`'s values where these have none.
    fn or(self, lower: Options) -> Options {
        merge!(self, lower, database_url, listen, base_currency, sqlite_synchronous, busy_timeout_ms, max_connections,
            request_timeout_secs, body_limit_bytes, session_hours, secure_cookies, risk_hold_uncaptured,
            risk_hold_country_mismatch, risk_value_factor, at_risk_hours, settlement_tolerance_minor, settlement_fee_rate,
            settlement_fee_rates, outbox_workers, outbox_max_attempts, outbox_first_retry_ms, notification_log, secret_key,
            easypost_webhook_secret, audit_key, audit_checkpoint_dir, audit_checkpoint_url, audit_checkpoint_minutes, backup_every, backup_dir, keep, log_format, log_filter)
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Audit checkpoints `ordo serve` writes by itself: into a folder, to a URL, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCheckpoints {
    pub dir: Option<PathBuf>,
    pub url: Option<String>,
    pub every: Duration,
}

/// Backups `ordo serve` takes by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledBackups {
    pub every: Duration,
    pub dir: PathBuf,
    /// The newest this many are kept.
    pub keep: usize,
}

/// `30m`, `6h`, `1d` or `90s` as a duration of at least a second.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30m, 6h or 1d"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        "d" => number.saturating_mul(86_400),
        _ => return Err(format!("{text:?} is not a duration such as 30m, 6h or 1d")),
    };
    if seconds == 0 {
        return Err(format!("{text:?} is no time at all"));
    }
    Ok(Duration::from_secs(seconds))
}

/// The resolved configuration every command runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Backups `ordo serve` takes by itself.
    pub backups: Option<ScheduledBackups>,
    /// Where and how often `ordo serve` writes signed audit checkpoints.
    pub audit_checkpoints: Option<ScheduledCheckpoints>,
    pub database_url: String,
    pub listen: SocketAddr,
    pub storage: StorageOptions,
    pub settings: Settings,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub secure_cookies: bool,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub outbox_workers: u32,
    pub notification_log: Option<PathBuf>,
}

/// A configuration value that cannot be used, named by its option.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {option}: {message}")]
pub struct ConfigError {
    pub option: String,
    pub message: String,
}

fn bad(option: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { option: option.to_owned(), message: message.into() }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://ordo.db";

impl Config {
    /// Resolves `given` (flags and environment) over the file at `file`, if any, over defaults.
    /// Without `file`, `ordo.toml` in the current folder is read when it exists.
    pub fn resolve(given: Options, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => read_file(path)?,
            None if Path::new("ordo.toml").exists() => read_file(Path::new("ordo.toml"))?,
            None => Options::default(),
        };
        let o = given.or(from_file);

        let listen = o.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen = listen.parse().map_err(|_| bad("listen", format!("{listen:?} is not an address like 127.0.0.1:8080")))?;
        let base_currency = o.base_currency.as_deref().unwrap_or("USD");
        let base_currency = Currency::from_code(base_currency).map_err(|e| bad("base_currency", e.to_string()))?;
        let sqlite_durability = match o.sqlite_synchronous.as_deref().unwrap_or("full") {
            "full" => SqliteDurability::Full,
            "normal" => SqliteDurability::Normal,
            other => return Err(bad("sqlite_synchronous", format!("{other:?} is neither full nor normal"))),
        };
        let log_format = match o.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(bad("log_format", format!("{other:?} is neither text nor json"))),
        };
        let positive = |option: &str, value: u64| {
            if value == 0 { Err(bad(option, "must be greater than 0")) } else { Ok(value) }
        };
        let session_hours = positive("session_hours", o.session_hours.unwrap_or(12))?;
        let at_risk_hours = positive("at_risk_hours", o.at_risk_hours.unwrap_or(4))?;
        let settlement = settlement_policy(&o)?;
        let max_connections = positive("max_connections", u64::from(o.max_connections.unwrap_or(10)))?;
        let within = |option: &str, value: u64, max: u64| {
            if (1..=max).contains(&value) { Ok(value) } else { Err(bad(option, format!("must be 1 to {max}"))) }
        };
        let outbox_retry = ordo_app::domain::notification::RetryPolicy {
            first_wait: chrono::Duration::milliseconds(within("outbox_first_retry_ms", o.outbox_first_retry_ms.unwrap_or(10_000), 86_400_000)? as i64),
            max_attempts: within("outbox_max_attempts", u64::from(o.outbox_max_attempts.unwrap_or(10)), 100)? as u32,
            ..ordo_app::domain::notification::RetryPolicy::default()
        };
        // No worker at all would leave every notification waiting for ever.
        let outbox_workers = within("outbox_workers", u64::from(o.outbox_workers.unwrap_or(2)), 64)? as u32;
        Ok(Config {
            database_url: o.database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            listen,
            storage: StorageOptions {
                sqlite_durability,
                busy_timeout: Duration::from_millis(o.busy_timeout_ms.unwrap_or(5000)),
                max_connections: u32::try_from(max_connections).unwrap_or(u32::MAX),
                sqlite_max_pages: None,
            },
            settings: Settings {
                base_currency,
                session_ttl: Duration::from_secs(session_hours.saturating_mul(3600)),
                risk: RiskPolicy {
                    hold_uncaptured: o.risk_hold_uncaptured.unwrap_or(true),
                    hold_country_mismatch: o.risk_hold_country_mismatch.unwrap_or(true),
                    value_factor: i64::from(o.risk_value_factor.unwrap_or(5)),
                    ..RiskPolicy::default()
                },
                at_risk_window: chrono::Duration::hours(at_risk_hours.min(24 * 365) as i64),
                settlement,
                outbox_retry,
                secret_key: o
                    .secret_key
                    .as_deref()
                    .map(|k| ordo_app::SecretKey::from_text(k).map_err(|e| bad("secret_key", e.to_string())))
                    .transpose()?,
                carrier_webhook_secrets: o.easypost_webhook_secret.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
                audit_key: o
                    .audit_key
                    .as_deref()
                    .map(|k| ordo_app::domain::audit::ChainKey::from_text(k).map_err(|e| bad("audit_key", e)))
                    .transpose()?,
            },
            backups: match o.backup_every.as_deref() {
                Some(every) => Some(ScheduledBackups {
                    every: parse_duration(every).map_err(|e| bad("backup_every", e))?,
                    dir: o.backup_dir.unwrap_or_else(|| PathBuf::from("backups")),
                    keep: usize::try_from(positive("keep", o.keep.unwrap_or(7))?).unwrap_or(usize::MAX),
                }),
                None => None,
            },
            audit_checkpoints: match (o.audit_checkpoint_dir, o.audit_checkpoint_url) {
                (None, None) => None,
                (dir, url) => Some(ScheduledCheckpoints {
                    dir,
                    url,
                    every: Duration::from_secs(60 * positive("audit_checkpoint_minutes", o.audit_checkpoint_minutes.unwrap_or(60))?),
                }),
            },
            request_timeout: Duration::from_secs(positive("request_timeout_secs", o.request_timeout_secs.unwrap_or(30))?),
            body_limit_bytes: o.body_limit_bytes.unwrap_or(1024 * 1024).max(1024),
            // Secure unless told otherwise, or served on loopback (where plain HTTP is usual).
            secure_cookies: o.secure_cookies.unwrap_or(!listen.ip().is_loopback()),
            log_format,
            log_filter: o.log_filter.unwrap_or_else(|| "info".to_owned()),
            outbox_workers,
            notification_log: o.notification_log,
        })
    }
}

fn read_file(path: &Path) -> Result<Options, ConfigError> {
    let option = "config";
    let text = std::fs::read_to_string(path).map_err(|e| bad(option, format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| bad(option, format!("{}: {}", path.display(), e.message())))
}


/// The settlement policy from the options, fee ranges given as percentages.
fn settlement_policy(o: &Options) -> Result<ordo_app::SettlementPolicy, ConfigError> {
    let mut policy = ordo_app::SettlementPolicy::default();
    if let Some(units) = o.settlement_tolerance_minor {
        policy.amount_tolerance_minor = i64::from(units);
    }
    if let Some(range) = &o.settlement_fee_rate {
        policy.default_fee_rate_bp = fee_range("settlement_fee_rate", range)?;
    }
    for part in o.settlement_fee_rates.iter().flat_map(|all| all.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let (channel, range) = part.split_once('=').ok_or_else(|| {
            bad("settlement_fee_rates", format!("{part:?} is not CHANNEL=LOW-HIGH"))
        })?;
        policy.fee_rate_bp.insert(channel.trim().to_owned(), fee_range("settlement_fee_rates", range)?);
    }
    Ok(policy)
}

/// "8-20" or "7.5-15.25" (percent) as basis points, low not above high.
fn fee_range(option: &str, text: &str) -> Result<(i64, i64), ConfigError> {
    let bad = || bad(option, format!("{text:?} is not a percentage range such as 8-20"));
    let percent = |p: &str| -> Option<i64> {
        let (whole, fraction) = p.trim().split_once('.').unwrap_or((p.trim(), ""));
        if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let bp = whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(format!("{fraction:0<2}").parse::<i64>().ok()?)?;
        (bp <= 10_000).then_some(bp)
    };
    let (low, high) = text.split_once('-').ok_or_else(bad)?;
    let (low, high) = (percent(low).ok_or_else(bad)?, percent(high).ok_or_else(bad)?);
    if low > high {
        return Err(bad());
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_file_sets_every_option_and_parses() {
        let sample = include_str!("../../../ordo.example.toml");
        // Every option appears, commented out or not, so people can find it.
        let uncommented: String = sample
            .lines()
            .map(|line| line.strip_prefix("# ").filter(|l| l.contains(" = ")).unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        let options: Options = toml::from_str(&uncommented).unwrap();
        let debug = format!("{options:?}");
        assert!(!debug.contains("None"), "ordo.example.toml lacks an option: {debug}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ordo.toml");
        std::fs::write(&path, &uncommented).unwrap();
        Config::resolve(Options::default(), Some(&path)).unwrap();
    }

    #[test]
    fn settlement_fee_ranges_read_as_percentages_per_channel() {
        let options = Options {
            settlement_tolerance_minor: Some(10),
            settlement_fee_rate: Some("5-20".into()),
            settlement_fee_rates: Some("amazon=8-15.5, wayfair=10-25".into()),
            ..Options::default()
        };
        let policy = Config::resolve(options, None).unwrap().settings.settlement;
        assert_eq!((policy.amount_tolerance_minor, policy.default_fee_rate_bp), (10, (500, 2_000)));
        assert_eq!(policy.fee_rate_bp.get("amazon"), Some(&(800, 1_550)));
        assert_eq!(policy.fee_rate_bp.get("wayfair"), Some(&(1_000, 2_500)));
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ordo.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nbase_currency = \"EUR\"\n").unwrap();
        let flags = Options { base_currency: Some("GBP".into()), ..Options::default() };
        let config = Config::resolve(flags, Some(&path)).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.settings.base_currency.code(), "GBP");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration(" 1d "), Ok(Duration::from_secs(86_400)));
        for bad in ["", "h", "5", "0s", "1w", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_values_name_their_option() {
        let cases = [
            Options { listen: Some("nowhere".into()), ..Options::default() },
            Options { sqlite_synchronous: Some("off".into()), ..Options::default() },
            Options { base_currency: Some("XYZ".into()), ..Options::default() },
            Options { session_hours: Some(0), ..Options::default() },
            Options { settlement_fee_rate: Some("25-8".into()), ..Options::default() },
            Options { settlement_fee_rates: Some("amazon:8-20".into()), ..Options::default() },
            Options { settlement_fee_rates: Some("amazon=8-200".into()), ..Options::default() },
            Options { outbox_workers: Some(0), ..Options::default() },
            Options { outbox_max_attempts: Some(1000), ..Options::default() },
            Options { outbox_first_retry_ms: Some(0), ..Options::default() },
        ];
        let names: Vec<String> = cases.into_iter().map(|o| Config::resolve(o, None).unwrap_err().option).collect();
        assert_eq!(
            names,
            [
                "listen",
                "sqlite_synchronous",
                "base_currency",
                "session_hours",
                "settlement_fee_rate",
                "settlement_fee_rates",
                "settlement_fee_rates",
                "outbox_workers",
                "outbox_max_attempts",
                "outbox_first_retry_ms"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ordo.toml");
        std::fs::write(&path, "colour = \"red\"\n").unwrap();
        let error = Config::resolve(Options::default(), Some(&path)).unwrap_err();
        assert!(error.message.contains("colour"), "{error}");
    }
}

//! Ordo's use cases, grouped by capability: `ordo.orders()`, `ordo.returns()`, … each hand
//! out a small named handle (all declared together in this file) whose public methods are the
//! things a person or a channel does there. Each validates its input, opens the
//! transaction it needs, and commits or changes nothing. The HTTP API, the dashboard and the
//! command line call these and nothing below them.

mod access;
mod anomalies;
mod audit;
mod changes;
mod confirmations;
mod cache;
mod connectors;
mod inbox;
mod pollers;
mod secrets;
mod clock;
mod exceptions;
mod fulfilment;
mod helpdesk;
mod intake;

pub mod import;
mod inventory;
mod ledger;
mod master;
mod names;
mod order_changes;
mod orders;
mod procurement;
mod outbox;
mod reports;
mod reserving;
mod returns;
mod rules;
mod simulation;
mod stock_drift;
mod stock_sync;
mod tracking;
mod workload;
mod settlements;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo_domain::access::{Permission, Role};
use ordo_domain::{Currency, FieldError};
use ordo_storage::Db;

pub use access::{form_token, new_form_token, IssuedToken, LoggedIn};
pub use audit::{AuditVerdict, MAX_AUDIT_PAGE};
pub use clock::Clock;
pub use confirmations::{Answer, Confirm, ConfirmRound, Confirmation, OrderConfirmer, RefundedItem};
pub use connectors::{ChannelConnection, ConnectorChange, ConnectorView};
pub use audit::record as record_audit;
pub use rules::seed_initial_rules;
pub use inbox::{MAX_CLAIM as MAX_INBOX_CLAIM, DeliveryView, InboxRound, InboundHealth, OutboundFigures, OutboundHealth, Receipt, SyncHealth};
pub use pollers::{FeedError, OrderFeed, PollRound, PollTarget, PolledOrder, PolledPage, POLL_LEASE};
pub use stock_drift::{Drift, DriftedListing, ReconcileError, StockReader};
pub use stock_sync::{ListingLevel, PushError, PushRound, StockPusher, FAILING_AFTER as STOCK_FAILING_AFTER, PUSH_LEASE};
pub use tracking::TrackingReceipt;
pub use reports::{ChannelDays, Kpis, Level, OwnerQueue, RaisedAndOpen, Rate, Review, ReviewPeriod, ReviewSection};
pub use workload::LocationWorkload;
pub use orders::{OrderFilter, OrderPage};
pub use secrets::{SecretError, SecretKey, MIN_KEY_LEN as MIN_SECRET_KEY_LEN};
pub use rules::{Drafted, NewRule};
pub use simulation::{ChangeCount, Example, Simulation};
pub use exceptions::{ExceptionAction, ExceptionDetail, ExceptionFilter, MAX_EXCEPTION_PAGE};
pub use fulfilment::ShipByWatch;
pub use ledger::{open_default_chart, AccountLedger, LedgerCheck, LedgerLine, ManualLine, Period, TrialBalance};
pub use ordo_domain::reconcile::SettlementPolicy;
pub use settlements::SettlementImport;
pub use anomalies::{Finding, KindScan, Scan, KINDS as ANOMALY_KINDS, MAX_JUDGED_DAYS};
pub use helpdesk::{AttachError, NewTicket, Retrained, TicketDetail};
pub use intake::Intake;
pub use procurement::{forecast_history, AccuracyReport, Bill, DemandDay, Exposure, SupplierPrice, SupplierTerms, SkuAccuracy, NewBill, NewPoLine, NewPurchaseOrder, NewSupplierSku, PoLine, ProposalView, PurchaseOrder, SkuForecastView};
pub use returns::{InspectedLine, NewRefund, NewRefundLine, NewReturn, NewReturnPolicy, ReturnPolicyView, NewReturnLine, ReceivedLine, ReturnSearch};
pub use outbox::{Courier, WebhookAnswer, WebhookClient, CreatedEndpoint, DeliveryRound, MessageDetail, NewEndpoint, MAX_OUTBOX_PAGE};
pub use ordo_domain as domain;
pub use ordo_storage::{AttachmentContent, PushHour, PromotionRecord, TicketQuery, AuditQuery, DeliveryAttempt, OutboxMessage, OutboxQuery, OrderSummary, SettlementLine, SettlementSummary, redact as redact_url, Engine, StorageError, MasterDataCounts, ProductPage, ProductQuery, SqliteDurability, StorageOptions, TokenListing, UserListing};

/// Settings the use cases need; everything else about running Ordo belongs to the adapters.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The currency costs, the ledger and reports are kept in.
    pub base_currency: Currency,
    /// How long a dashboard log-in lasts.
    pub session_ttl: Duration,
    /// Which orders wait for review before stock is reserved.
    pub risk: ordo_domain::risk::RiskPolicy,
    /// An unshipped order this close to its ship-by time is a shipment at risk.
    pub at_risk_window: chrono::Duration,
    /// What settlement reconciliation accepts without a person.
    pub settlement: SettlementPolicy,
    /// How the outbox retries a message its endpoint did not take.
    pub outbox_retry: ordo_domain::notification::RetryPolicy,
    /// Seals connector secrets at rest; without it Ordo refuses to store one.
    pub secret_key: Option<SecretKey>,
    /// The secrets carriers' tracking webhooks (EasyPost) are signed with; none refuses them all.
    pub carrier_webhook_secrets: Vec<String>,
    /// Hashes the audit chain (HMAC) and signs its checkpoints; kept out of the database. Without
    /// it the chain is plain SHA-256, which anyone who can write to the database can recompute.
    pub audit_key: Option<ordo_domain::audit::ChainKey>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_currency: Currency::USD,
            session_ttl: Duration::from_secs(12 * 3600),
            risk: ordo_domain::risk::RiskPolicy::default(),
            at_risk_window: chrono::Duration::hours(4),
            settlement: SettlementPolicy::default(),
            outbox_retry: ordo_domain::notification::RetryPolicy::default(),
            secret_key: None,
            carrier_webhook_secrets: Vec::new(),
            audit_key: None,
        }
    }
}

/// The application: a database and the settings the use cases run under.
#[derive(Debug, Clone)]
pub struct Ordo {
    db: Db,
    settings: Settings,
    clock: Clock,
    cache: std::sync::Arc<cache::MasterCache>,
    intake: intake::IntakeQueue,
    /// The channels' deliveries, kept in groups, and the processors' wake-up call.
    inbox: inbox::Inbox,
    /// When this process last noted each token's use: at most one write a minute per token,
    /// however many requests carry it at once.
    token_uses: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, DateTime<Utc>>>>,
    /// The ticket classifier: Ordo's own, learned on first use; retrained with the business's
    /// labels on demand (`helpdesk.rs`).
    triage: std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<ordo_triage::Classifier>>>>,
}

/// Who is acting: a user of the dashboard, an API token, or Ordo itself, and on which request.
/// Recorded with the changes each makes, in the timelines and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub name: String,
    pub role: Role,
    /// The HTTP request being served, for finding its log lines from an audit record.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Token,
    System,
}

impl Actor {
    /// Ordo itself, or an operator at the command line with the database in hand.
    pub fn system() -> Actor {
        Actor { kind: ActorKind::System, name: "system".to_owned(), role: Role::Admin, request_id: None }
    }

    /// Ordo itself acting in a role under a name of its own, as the demo's people do.
    pub fn system_as(name: &str, role: Role) -> Actor {
        Actor { kind: ActorKind::System, name: name.to_owned(), role, request_id: None }
    }

    /// The same actor, serving the request `id` (an id longer than a UUID's few dozen
    /// characters is a caller's invention and is not kept).
    pub fn on_request(self, id: Option<&str>) -> Actor {
        Actor { request_id: id.filter(|id| id.len() <= 100).map(str::to_owned), ..self }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role.can(permission)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ActorKind::User => write!(f, "user:{}", self.name),
            ActorKind::Token => write!(f, "token:{}", self.name),
            ActorKind::System => f.write_str("system"),
        }
    }
}

/// Why a use case did not happen. Nothing was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input broke a rule; the field says which part.
    #[error("{0}")]
    Invalid(FieldError),
    /// The key the input names is already taken.
    #[error("{0}")]
    Duplicate(FieldError),
    /// The same idempotency key (an order's channel and external id) came with another
    /// request; the field names the first difference.
    #[error("{0}")]
    IdempotencyConflict(FieldError),
    /// The thing asked for does not exist.
    #[error("{what} {key:?} not found")]
    NotFound { what: &'static str, key: String },
    /// Stock cannot go below what is reserved or below zero.
    #[error("{0}")]
    InsufficientStock(FieldError),
    /// The state machine does not allow this from where the thing (an order, a wave) stands
    /// now; `current` names that state.
    #[error("{message}")]
    InvalidTransition { current: &'static str, message: String },
    /// No valid credentials were given.
    #[error("not authenticated")]
    Unauthenticated,
    /// Too many failed log-ins for this account or address: the next attempt must wait.
    #[error("too many failed log-ins: try again in {retry_after_s} seconds")]
    TooManyAttempts { retry_after_s: i64 },
    /// A webhook's signature matches none of the channel's secrets (or is missing).
    #[error("the signature matches none of the channel's webhook secrets")]
    BadSignature,
    /// The caller's role may use this kind of action, but not on this thing: an exception
    /// another role owns, a change the caller proposed themselves.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Invalid(error)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Told how far a long use case (an import, the demo) has come, to draw a progress bar. `Sync`
/// so a use case that reports progress can run on a server's threads.
pub trait Progress: Sync {
    fn start(&self, steps: u64);
    fn advance(&self);
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self) {}
}

/// Declares a capability: a handle on [`Ordo`] named for what it does, and the method of
/// `Ordo` that hands it out. The handle's methods (in the capability's module) reach the
/// shared parts (storage, clock, cache) through the `Ordo` it borrows.
macro_rules! capabilities {
    ($($(#[$doc:meta])* $accessor:ident -> $handle:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $handle<'a>(&'a Ordo);

            impl std::ops::Deref for $handle<'_> {
                type Target = Ordo;

                fn deref(&self) -> &Ordo {
                    self.0
                }
            }
        )*

        impl Ordo {
            $(
                $(#[$doc])*
                pub fn $accessor(&self) -> $handle<'_> {
                    $handle(self)
                }
            )*
        }
    };
}

// The capabilities, each with the module its use cases are in.
capabilities! {
    /// Orders: intake from every channel, holds, cancellations, the list and timelines
    /// (`intake.rs`, `orders.rs`, `order_changes.rs`).
    orders -> Orders;
    /// Stock: movements, levels, transfers, available-to-sell (`inventory.rs`).
    inventory -> Inventory;
    /// Waves, picking, packing, shipments and their tracking (`fulfilment.rs`, `tracking.rs`).
    fulfilment -> Fulfilment;
    /// Returns, refunds, replacements and carrier claims (`returns.rs`).
    returns -> Returns;
    /// Channels, locations, products, listings, kits, customers, suppliers, taxes, and the
    /// CSV import (`master.rs`, `import.rs`).
    master_data -> MasterData;
    /// The channels' connectors, their webhook inbox and pollers, and the stock Ordo tells
    /// them (`connectors.rs`, `inbox.rs`, `pollers.rs`, `stock_sync.rs`).
    channels -> Channels;
    /// The double-entry ledger, exchange rates and profitability (`ledger.rs`).
    ledger -> Ledger;
    /// Marketplace settlements and their reconciliation (`settlements.rs`).
    settlements -> Settlements;
    /// Suppliers' terms, forecasts, replenishment proposals, purchase orders, receipts and
    /// bills (`procurement/`).
    procurement -> Procurement;
    /// Rules: drafted, approved, activated, replayed against history (`rules.rs`,
    /// `simulation.rs`).
    rules -> Rules;
    /// Change requests: proposed by one person, decided by another (`changes.rs`).
    changes -> Changes;
    /// Exceptions, each in front of its owner, and their escalation (`exceptions.rs`).
    exceptions -> Exceptions;
    /// Tickets of the helpdesk and their attachments (`helpdesk.rs`).
    helpdesk -> Helpdesk;
    /// Anomalies in the business's own history, raised as exceptions with their evidence
    /// (`anomalies.rs`).
    anomalies -> Anomalies;
    /// Notifications out: endpoints and the outbox that delivers to them (`outbox.rs`).
    outbox -> Outbox;
    /// The operating figures and their trends (`reports.rs`).
    reports -> Reports;
    /// Users, sessions and API tokens (`access.rs`).
    access -> Access;
    /// The audit log and its verification (`audit.rs`).
    audit -> Audit;
}

impl Ordo {
    /// Opens the database at `url` and brings its schema up to date.
    pub async fn open(url: &str, storage: &StorageOptions, settings: Settings) -> AppResult<Ordo> {
        Self::start(Db::open(url, storage).await?, settings).await
    }

    /// Opens a database `ordo init` made before, bringing its schema up to date; one that was
    /// never initialised (a mistyped path, an empty PostgreSQL database) is refused.
    pub async fn open_initialised(url: &str, storage: &StorageOptions, settings: Settings) -> AppResult<Ordo> {
        Self::start(Db::open_initialised(url, storage).await?, settings).await
    }

    async fn start(db: Db, settings: Settings) -> AppResult<Ordo> {
        let db = db.with_audit_key(settings.audit_key.clone().map(std::sync::Arc::new));
        db.migrate().await?;
        let intake = intake::IntakeQueue::start(db.clone());
        let inbox = inbox::Inbox::start(db.clone());
        let ordo = Ordo { db, settings, clock: Clock::System, cache: Default::default(), intake, inbox, token_uses: Default::default(), triage: Default::default() };
        // A database set up already is only read: a command run beside a busy `ordo serve`
        // must not queue for SQLite's one writer, and time out, to find nothing to write.
        let mut tx = ordo.db.read().await?;
        let set_up = ledger::default_chart_open(&mut tx).await? && rules::initial_rules_seeded(&mut tx).await?;
        drop(tx);
        if !set_up {
            let mut tx = ordo.db.write().await?;
            ledger::open_default_chart(&mut tx, ordo.now()).await?;
            rules::seed_initial_rules(&mut tx, &ordo.settings.risk, ordo.now()).await?;
            tx.commit().await?;
        }
        Ok(ordo)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// Whether the database answers.
    pub async fn health(&self) -> AppResult<()> {
        Ok(self.db.ping().await?)
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The same application reading its time from `clock`: the demo trades simulated days.
    pub fn with_clock(&self, clock: Clock) -> Ordo {
        Ordo { clock, ..self.clone() }
    }

    /// The same Ordo, running its use cases under `settings`.
    pub fn with_settings(&self, settings: Settings) -> Ordo {
        Ordo { settings, ..self.clone() }
    }

    /// The time by Ordo's clock: what every use case and page reads as now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The database itself, for the one caller that seeds a whole business at once (the demo,
    /// on a database it made); everything else goes through the use cases.
    pub fn storage(&self) -> &Db {
        &self.db
    }

    /// The clock the use cases read: simulated for the demo, which moves it along.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Forgets the master data kept in memory, after it was written behind the use cases' back.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }
}

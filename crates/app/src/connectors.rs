//! Channel connectors: set up (by a change request, or at once by an admin), paused and
//! resumed. Secrets and credentials are sealed with the configured key before they are kept
//! anywhere, a change request included, and are never shown again.

use chrono::{DateTime, Utc};
use ordo_domain::access::Role;
use ordo_domain::audit::Change;
use ordo_domain::change::{ChangeKind, ChangeRequest, Proposal};
use ordo_domain::connector::{ConnectionSigns, ConnectionState, ConnectorKind, ConnectorSettings, NewConnector};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::FieldError;
use ordo_storage::{ConnectorRecord, Tx};
use serde::Serialize;

use crate::audit::record;
use crate::secrets::SecretKey;
use crate::{Actor, AppError, AppResult, Channels};

/// A connector as it may be shown: whether secrets are set, never what they are.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectorView {
    pub channel: String,
    pub kind: ConnectorKind,
    pub base_url: Option<String>,
    /// How many webhook secrets are in force (two while one is being rotated).
    pub webhook_secrets: usize,
    pub credentials_set: bool,
    pub poll_interval_s: i64,
    pub sync_lag_threshold_s: i64,
    pub paused: bool,
    pub updated_at: DateTime<Utc>,
    /// Deliveries the channel sent again, dropped.
    pub duplicates_dropped: i64,
}

/// What setting a connector did: applied at once, or proposed for another person to approve.
#[derive(Debug, Clone)]
pub enum ConnectorChange {
    Applied(ConnectorView),
    Proposed(ChangeRequest),
}

/// A connector with its webhook secrets opened, for checking signatures.
#[derive(Clone)]
pub struct OpenConnector {
    pub channel: String,
    pub kind: ConnectorKind,
    pub webhook_secrets: Vec<String>,
}

impl std::fmt::Debug for OpenConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenConnector").field("channel", &self.channel).field("kind", &self.kind).finish_non_exhaustive()
    }
}

fn corrupt(what: &str) -> AppError {
    AppError::Storage(ordo_storage::StorageError::Unavailable(format!("channel_connectors.{what} is not what Ordo wrote")))
}

pub(crate) fn view(record: ConnectorRecord, key: Option<&SecretKey>) -> AppResult<ConnectorView> {
    let secrets = match (&record.webhook_secrets, key) {
        (Some(sealed), Some(key)) => serde_json::from_str::<Vec<String>>(&key.open(sealed).map_err(|_| corrupt("webhook_secrets"))?)
            .map_err(|_| corrupt("webhook_secrets"))?
            .len(),
        (Some(_), None) => 1,
        (None, _) => 0,
    };
    Ok(ConnectorView {
        kind: ConnectorKind::parse("kind", &record.kind).map_err(|_| corrupt("kind"))?,
        channel: record.channel,
        base_url: record.base_url,
        webhook_secrets: secrets,
        credentials_set: record.credentials.is_some(),
        poll_interval_s: record.poll_interval_s,
        sync_lag_threshold_s: record.sync_lag_threshold_s,
        paused: record.paused,
        updated_at: record.updated_at,
        duplicates_dropped: record.duplicates_dropped,
    })
}

/// The connector's state as the audit log and change requests show it.
pub(crate) async fn state(tx: &mut Tx, channel: &str) -> AppResult<serde_json::Value> {
    Ok(match tx.connector(channel).await? {
        None => serde_json::Value::Null,
        Some(c) => serde_json::json!({
            "kind": c.kind,
            "base_url": c.base_url,
            "webhook_secrets": if c.webhook_secrets.is_some() { "set" } else { "none" },
            "credentials": if c.credentials.is_some() { "set" } else { "none" },
            "poll_interval_s": c.poll_interval_s,
            "sync_lag_threshold_s": c.sync_lag_threshold_s,
            "paused": c.paused,
        }),
    })
}

/// Writes `settings` to the channel's connector, keeping the secrets they leave out.
pub(crate) async fn apply(tx: &mut Tx, channel: &str, settings: &ConnectorSettings, now: DateTime<Utc>) -> AppResult<()> {
    let current = tx.connector(channel).await?;
    let record = ConnectorRecord {
        channel: channel.to_owned(),
        kind: settings.kind.as_str().to_owned(),
        base_url: settings.base_url.clone(),
        webhook_secrets: settings.webhook_secrets.clone().or_else(|| current.as_ref().and_then(|c| c.webhook_secrets.clone())),
        credentials: settings.credentials.clone().or_else(|| current.as_ref().and_then(|c| c.credentials.clone())),
        poll_interval_s: settings.poll_interval_s,
        sync_lag_threshold_s: settings.sync_lag_threshold_s,
        paused: current.as_ref().is_some_and(|c| c.paused),
        updated_at: now,
        duplicates_dropped: current.map_or(0, |c| c.duplicates_dropped),
    };
    tx.upsert_connector(&record).await?;
    Ok(())
}

impl Channels<'_> {
    fn secret_key(&self, field: &str) -> AppResult<&SecretKey> {
        self.settings.secret_key.as_ref().ok_or_else(|| {
            FieldError::new(field, "cannot be stored: Ordo has no secret key to seal it with (set ORDO_SECRET_KEY, at least 32 characters)").into()
        })
    }

    /// Sets up or changes a channel's connector. An admin's change applies at once; anyone
    /// else's becomes a change request that another person of ops or admin approves.
    pub async fn put_connector(self, channel: &str, new: NewConnector, actor: &Actor) -> AppResult<ConnectorChange> {
        let checked = new.check()?;
        let seal = |field: &str, plain: String| -> AppResult<String> {
            self.secret_key(field)?.seal(&plain).map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string())))
        };
        let webhook_secrets = checked
            .webhook_secrets
            .map(|s| seal("webhook_secrets", serde_json::to_string(&s).unwrap_or_default()))
            .transpose()?;
        let credentials = checked.credentials.map(|c| seal("credentials", serde_json::Value::Object(c).to_string())).transpose()?;
        let settings = ConnectorSettings {
            kind: checked.kind,
            base_url: checked.base_url,
            webhook_secrets,
            credentials,
            poll_interval_s: checked.poll_interval_s,
            sync_lag_threshold_s: checked.sync_lag_threshold_s,
        };
        let channel = ordo_domain::field::code("channel", channel)?;
        if actor.role != Role::Admin {
            let change = serde_json::json!({"channel": channel, "connector": settings});
            let proposal = Proposal::Connector { channel: channel.clone(), settings };
            let reason = format!("connect {channel} to {}", checked.kind.as_str());
            return Ok(ConnectorChange::Proposed(self.changes().propose(ChangeKind::Connector, proposal, change, &reason, actor).await?));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        tx.channel(&channel).await?.ok_or_else(|| AppError::NotFound { what: "channel", key: channel.clone() })?;
        let before = state(&mut tx, &channel).await?;
        apply(&mut tx, &channel, &settings, now).await?;
        let after = state(&mut tx, &channel).await?;
        let mut shown_after = after;
        // The log says that a secret changed, never what it is.
        for (name, sealed) in [("webhook_secrets", &settings.webhook_secrets), ("credentials", &settings.credentials)] {
            if sealed.is_some() {
                shown_after[name] = "secret changed".into();
            }
        }
        let change = Change::new("connector.change", format!("connector:{channel}")).before(&before).after(&shown_after);
        record(&mut tx, actor, now, &[change]).await?;
        let saved = tx.connector(&channel).await?.ok_or_else(|| AppError::NotFound { what: "connector", key: channel.clone() })?;
        tx.commit().await?;
        self.inbox.forget_connectors();
        Ok(ConnectorChange::Applied(view(saved, self.settings.secret_key.as_ref())?))
    }

    pub async fn connector(self, channel: &str) -> AppResult<ConnectorView> {
        let record = self.db.read().await?.connector(channel).await?;
        let record = record.ok_or_else(|| AppError::NotFound { what: "connector", key: channel.to_owned() })?;
        view(record, self.settings.secret_key.as_ref())
    }

    pub async fn connectors(self) -> AppResult<Vec<ConnectorView>> {
        let records = self.db.read().await?.connectors().await?;
        records.into_iter().map(|r| view(r, self.settings.secret_key.as_ref())).collect()
    }

    /// Pauses a connector (its webhooks are still kept, but not processed; its pollers stop),
    /// or resumes it.
    pub async fn pause_connector(self, channel: &str, paused: bool, actor: &Actor) -> AppResult<ConnectorView> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let before = state(&mut tx, channel).await?;
        if !tx.set_connector_paused(channel, paused, now).await? {
            return Err(AppError::NotFound { what: "connector", key: channel.to_owned() });
        }
        let action = if paused { "connector.pause" } else { "connector.resume" };
        let change = Change::new(action, format!("connector:{channel}"))
            .before(serde_json::json!({"paused": before["paused"]}))
            .after(serde_json::json!({"paused": paused}));
        record(&mut tx, actor, now, &[change]).await?;
        // What waited while the connector was paused is processed now, not at its next look.
        if !paused {
            tx.make_deliveries_due(channel, now).await?;
        }
        let saved = tx.connector(channel).await?.ok_or_else(|| AppError::NotFound { what: "connector", key: channel.to_owned() })?;
        tx.commit().await?;
        self.inbox.forget_connectors();
        if !paused {
            self.inbox.wake.notify_one();
        }
        view(saved, self.settings.secret_key.as_ref())
    }

    /// The connector with its webhook secrets opened, for checking signatures.
    pub(crate) async fn open_connector(self, tx: &mut Tx, channel: &str) -> AppResult<Option<OpenConnector>> {
        let Some(record) = tx.connector(channel).await? else { return Ok(None) };
        let open = |sealed: &Option<String>, what: &str| -> AppResult<Option<String>> {
            match sealed {
                None => Ok(None),
                Some(sealed) => {
                    let key = self.settings.secret_key.as_ref().ok_or_else(|| {
                        let message = format!("the {channel} connector's {what} cannot be opened: no secret key (ORDO_SECRET_KEY) is configured");
                        AppError::Storage(ordo_storage::StorageError::Unavailable(message))
                    })?;
                    key.open(sealed).map(Some).map_err(|_| corrupt(what))
                }
            }
        };
        let webhook_secrets = match open(&record.webhook_secrets, "webhook_secrets")? {
            Some(text) => serde_json::from_str(&text).map_err(|_| corrupt("webhook_secrets"))?,
            None => Vec::new(),
        };
        Ok(Some(OpenConnector {
            kind: ConnectorKind::parse("kind", &record.kind).map_err(|_| corrupt("kind"))?,
            channel: record.channel,
            webhook_secrets,
        }))
    }
}

/// A channel's connection at a glance, as the Channels page shows it.
#[derive(Debug, Clone)]
pub struct ChannelConnection {
    pub channel: ordo_domain::master::Channel,
    pub connector: Option<ConnectorView>,
    pub state: ConnectionState,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub received_last_day: i64,
    pub failed: i64,
    /// The stock Ordo has still to tell the channel, and how its pushes went.
    pub outbound: crate::OutboundHealth,
    /// The last day's pushes and confirmations, hour by hour.
    pub push_hours: Vec<ordo_storage::PushHour>,
}

impl Channels<'_> {
    /// Every channel with its connector and how its connection is doing.
    pub async fn channel_connections(self) -> AppResult<Vec<ChannelConnection>> {
        let since = self.now() - chrono::Duration::hours(24);
        // Sync times are the wall clock's; the hour the day began in is drawn whole.
        let day_ago = {
            use chrono::DurationRound;
            let ago = Utc::now() - chrono::Duration::hours(23);
            ago.duration_trunc(chrono::TimeDelta::hours(1)).unwrap_or(ago)
        };
        let mut tx = self.db.read().await?;
        let channels = tx.channels().await?;
        let mut connections = Vec::with_capacity(channels.len());
        for channel in channels {
            let connector = tx.connector(&channel.code).await?.map(|c| view(c, self.settings.secret_key.as_ref())).transpose()?;
            let stats = tx.inbox_stats(&channel.code, since).await?;
            let last_polled_at = tx.cursors(&channel.code).await?.into_iter().filter_map(|c| c.polled_at).max();
            let outbound = crate::stock_sync::outbound_health(&mut tx, &channel.code).await?;
            let push_hours = tx.push_hours(&channel.code, day_ago).await?;
            let poll_failing = tx.has_unresolved_exception(ExceptionKind::SyncFailure.as_str(), &format!("connector:{}", channel.code)).await?;
            let state = ConnectionState::judge(ConnectionSigns {
                paused: connector.as_ref().map(|c| c.paused),
                deliveries_failed: stats.failed,
                poll_failing,
                pushes_failed: outbound.failed,
            });
            connections.push(ChannelConnection {
                channel,
                connector,
                state,
                last_received_at: stats.last_received_at,
                last_polled_at,
                received_last_day: stats.received_since,
                failed: stats.failed,
                outbound,
                push_hours,
            });
        }
        Ok(connections)
    }
}

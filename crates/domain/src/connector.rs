//! Channel connectors: which kind of channel Ordo talks to, where, and with what. Secrets and
//! credentials are write-only: what is kept is sealed by the application, and what is shown
//! (the API, change requests, the audit log) only says whether one is set or changed.


use serde::{Deserialize, Serialize};

use crate::field::{self, FieldError};

/// The channels Ordo has a connector for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    Shopify,
    WooCommerce,
    Amazon,
    Ebay,
}

impl ConnectorKind {
    pub const ALL: [ConnectorKind; 4] = [ConnectorKind::Shopify, ConnectorKind::WooCommerce, ConnectorKind::Amazon, ConnectorKind::Ebay];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Shopify => "shopify",
            ConnectorKind::WooCommerce => "woocommerce",
            ConnectorKind::Amazon => "amazon",
            ConnectorKind::Ebay => "ebay",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<ConnectorKind, FieldError> {
        ConnectorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| FieldError::new(field, "must be one of shopify, woocommerce, amazon, ebay"))
    }

    /// Whether the channel pushes its orders by signed webhooks.
    pub fn pushes(self) -> bool {
        matches!(self, ConnectorKind::Shopify | ConnectorKind::WooCommerce)
    }

    /// Whether Ordo tells this kind of channel its available-to-sell: every kind it connects.
    pub fn pushes_stock(self) -> bool {
        matches!(self, ConnectorKind::Amazon | ConnectorKind::Ebay | ConnectorKind::WooCommerce | ConnectorKind::Shopify)
    }
}

/// How a channel's connection is doing, as the Channels page and the integration queue show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    NotConnected,
    /// Paused by a person or by the channel (an uninstalled app): what arrives is kept.
    Paused,
    /// Deliveries that failed, a poll that keeps failing, or stock the channel refused.
    Failing,
    Active,
}

/// What a connection's state is judged from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionSigns {
    /// `None` when the channel has no connector; else whether it is paused.
    pub paused: Option<bool>,
    pub deliveries_failed: i64,
    pub poll_failing: bool,
    pub pushes_failed: i64,
}

impl ConnectionState {
    /// A paused connector is shown paused even with failures: they wait for it to resume.
    pub fn judge(signs: ConnectionSigns) -> ConnectionState {
        match signs.paused {
            None => ConnectionState::NotConnected,
            Some(true) => ConnectionState::Paused,
            Some(false) if signs.deliveries_failed > 0 || signs.poll_failing || signs.pushes_failed > 0 => ConnectionState::Failing,
            Some(false) => ConnectionState::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NotConnected => "not connected",
            ConnectionState::Paused => "paused",
            ConnectionState::Failing => "failing",
            ConnectionState::Active => "active",
        }
    }
}

/// The most webhook secrets in force at once: the current one and the one being retired.
pub const MAX_WEBHOOK_SECRETS: usize = 2;
/// How long a change may wait to be told to a channel before a `sync_lag` exception, unless
/// the connector says, and the least and most it may say, in seconds.
pub const DEFAULT_SYNC_LAG_THRESHOLD_S: i64 = 300;
pub const SYNC_LAG_THRESHOLD_S: (i64, i64) = (30, 86_400);
/// How often a poller may ask, at most and at least, in seconds.
pub const POLL_INTERVAL_S: (i64, i64) = (10, 86_400);

/// A connector as someone asks for it, secrets in the clear, not yet checked.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewConnector {
    pub kind: String,
    /// Where the channel's API is; the channel's own address when absent.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The secrets webhooks are signed with (two while rotating); absent keeps the current ones.
    #[serde(default)]
    pub webhook_secrets: Option<Vec<String>>,
    /// The channel's API credentials (tokens, client id and secret); absent keeps the current ones.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credentials: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub poll_interval_s: Option<i64>,
    /// How long a change may wait to be told to the channel before the integration role is
    /// told (a `sync_lag` exception); five minutes when absent.
    #[serde(default)]
    pub sync_lag_threshold_s: Option<i64>,
}

/// A checked connector, secrets still in the clear: the application seals them.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConnector {
    pub kind: ConnectorKind,
    pub base_url: Option<String>,
    pub webhook_secrets: Option<Vec<String>>,
    pub credentials: Option<serde_json::Map<String, serde_json::Value>>,
    pub poll_interval_s: i64,
    pub sync_lag_threshold_s: i64,
}

impl NewConnector {
    pub fn check(self) -> Result<CheckedConnector, FieldError> {
        let kind = ConnectorKind::parse("kind", self.kind.trim())?;
        let base_url = match self.base_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(url) => {
                let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default()).unwrap_or_default();
                if host.is_empty() || url.len() > 500 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(FieldError::new("base_url", "must be an http:// or https:// address such as https://shop.example.com"));
                }
                Some(url.trim_end_matches('/').to_owned())
            }
        };
        if let Some(secrets) = &self.webhook_secrets {
            if secrets.is_empty() || secrets.len() > MAX_WEBHOOK_SECRETS {
                return Err(FieldError::new("webhook_secrets", format!("must hold one secret, or {MAX_WEBHOOK_SECRETS} while rotating")));
            }
            for (i, secret) in secrets.iter().enumerate() {
                if secret.trim().len() < 8 || secret.len() > 500 || secret.chars().any(char::is_control) {
                    return Err(FieldError::new(format!("webhook_secrets[{i}]"), "must be 8 to 500 characters, none of them control characters"));
                }
            }
        }
        if let Some(credentials) = &self.credentials
            && serde_json::to_string(credentials).map_or(0, |t| t.len()) > 10_000
        {
            return Err(FieldError::new("credentials", "must be at most 10,000 characters of JSON"));
        }
        let poll_interval_s = field::bounded("poll_interval_s", self.poll_interval_s.unwrap_or(60), POLL_INTERVAL_S.0, POLL_INTERVAL_S.1)?;
        let (least, most) = SYNC_LAG_THRESHOLD_S;
        let sync_lag_threshold_s = field::bounded("sync_lag_threshold_s", self.sync_lag_threshold_s.unwrap_or(DEFAULT_SYNC_LAG_THRESHOLD_S), least, most)?;
        Ok(CheckedConnector {
            kind,
            base_url,
            webhook_secrets: self.webhook_secrets.map(|s| s.into_iter().map(|s| s.trim().to_owned()).collect()),
            credentials: self.credentials,
            poll_interval_s,
            sync_lag_threshold_s,
        })
    }
}

/// A connector's settings as a change request carries them: secrets and credentials sealed
/// (`None` keeps what the connector has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSettings {
    pub kind: ConnectorKind,
    pub base_url: Option<String>,
    pub webhook_secrets: Option<String>,
    pub credentials: Option<String>,
    pub poll_interval_s: i64,
    #[serde(default = "default_sync_lag_threshold_s")]
    pub sync_lag_threshold_s: i64,
}

fn default_sync_lag_threshold_s() -> i64 {
    DEFAULT_SYNC_LAG_THRESHOLD_S
}

impl ConnectorSettings {
    /// What may be shown of a change to these settings: never a secret, only that it changes.
    pub fn shown(&self) -> serde_json::Value {
        let secret = |s: &Option<String>| if s.is_some() { "secret changed" } else { "unchanged" };
        serde_json::json!({
            "kind": self.kind.as_str(),
            "base_url": self.base_url,
            "webhook_secrets": secret(&self.webhook_secrets),
            "credentials": secret(&self.credentials),
            "poll_interval_s": self.poll_interval_s,
            "sync_lag_threshold_s": self.sync_lag_threshold_s,
        })
    }
}

/// Where a channel's delivery stands in the inbox: pending until processed into Ordo, ignored
/// (nothing to do) or failed (it could not be mapped and waits for a fix); a replay makes any
/// of them pending again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    Pending,
    Processed,
    Ignored,
    Failed,
}
named!(InboxStatus, "a status", { Pending => "pending", Processed => "processed", Ignored => "ignored", Failed => "failed" });

impl InboxStatus {
    pub fn can_become(self, next: InboxStatus) -> bool {
        use InboxStatus::*;
        matches!((self, next), (Pending, Processed | Ignored | Failed | Pending) | (Processed | Ignored | Failed, Pending))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_connection_is_failing_only_when_connected_running_and_something_failed() {
        let judge = |paused, deliveries_failed, poll_failing, pushes_failed| {
            ConnectionState::judge(ConnectionSigns { paused, deliveries_failed, poll_failing, pushes_failed })
        };
        assert_eq!(judge(None, 3, true, 1), ConnectionState::NotConnected);
        assert_eq!(judge(Some(true), 3, true, 1), ConnectionState::Paused);
        assert_eq!(judge(Some(false), 0, false, 0), ConnectionState::Active);
        for failing in [judge(Some(false), 1, false, 0), judge(Some(false), 0, true, 0), judge(Some(false), 0, false, 2)] {
            assert_eq!(failing, ConnectionState::Failing);
        }
        assert_eq!(ConnectionState::Failing.as_str(), "failing");
    }

    use super::*;

    fn new(kind: &str) -> NewConnector {
        NewConnector { kind: kind.into(), base_url: None, webhook_secrets: None, credentials: None, poll_interval_s: None, sync_lag_threshold_s: None }
    }

    #[test]
    fn a_connector_is_checked_field_by_field() {
        assert_eq!(new("magento").check().unwrap_err().field, "kind");
        let c = NewConnector { base_url: Some("https://shop.example.com/".into()), ..new("shopify") }.check().unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://shop.example.com"));
        assert_eq!(c.poll_interval_s, 60);
        assert_eq!(NewConnector { base_url: Some("ftp://x".into()), ..new("ebay") }.check().unwrap_err().field, "base_url");
        assert_eq!(NewConnector { webhook_secrets: Some(vec![]), ..new("shopify") }.check().unwrap_err().field, "webhook_secrets");
        let three = Some(vec!["aaaaaaaa".into(), "bbbbbbbb".into(), "cccccccc".into()]);
        assert_eq!(NewConnector { webhook_secrets: three, ..new("shopify") }.check().unwrap_err().field, "webhook_secrets");
        assert_eq!(NewConnector { webhook_secrets: Some(vec!["short".into()]), ..new("shopify") }.check().unwrap_err().field, "webhook_secrets[0]");
        assert_eq!(NewConnector { poll_interval_s: Some(1), ..new("amazon") }.check().unwrap_err().field, "poll_interval_s");
        assert_eq!(NewConnector { sync_lag_threshold_s: Some(0), ..new("shopify") }.check().unwrap_err().field, "sync_lag_threshold_s");
    }

    proptest::proptest! {
        #[test]
        fn any_connector_is_checked_or_refused_naming_its_field(
            kind in ".{0,12}", url in proptest::option::of(".{0,40}"), secrets in proptest::option::of(proptest::collection::vec(".{0,20}", 0..4)),
            interval in proptest::option::of(proptest::num::i64::ANY), lag in proptest::option::of(proptest::num::i64::ANY),
        ) {
            let new = NewConnector { kind, base_url: url, webhook_secrets: secrets, credentials: None, poll_interval_s: interval, sync_lag_threshold_s: lag };
            match new.check() {
                Ok(c) => proptest::prop_assert!((POLL_INTERVAL_S.0..=POLL_INTERVAL_S.1).contains(&c.poll_interval_s)),
                Err(e) => proptest::prop_assert!(!e.field.is_empty() && !e.message.is_empty()),
            }
        }
    }

    #[test]
    fn shown_settings_never_carry_a_secret() {
        let settings = ConnectorSettings {
            kind: ConnectorKind::Shopify,
            base_url: None,
            webhook_secrets: Some("sealed-bytes".into()),
            credentials: None,
            poll_interval_s: 60,
            sync_lag_threshold_s: 300,
        };
        let shown = settings.shown().to_string();
        assert!(!shown.contains("sealed-bytes"));
        assert!(shown.contains("secret changed"));
    }
}

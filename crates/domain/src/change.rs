//! Maker-checker change requests for the master data that moves money or stock: one person
//! proposes, another of the owning role approves (the change is applied then, atomically) or
//! rejects. The request keeps the state before and after.

use serde::Serialize;

use crate::access::Role;
use crate::FieldError;

/// What a change request changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A listing's price on its channel.
    Price,
    /// The tax class of a product.
    TaxClass,
    /// Which SKU a channel's listing sells (a new listing, or one pointed at another SKU).
    Listing,
    /// Whether a SKU may be sold.
    SkuActivation,
    /// A location's priority in routing.
    LocationPriority,
    /// How a SKU, or an ABC class of SKUs, is replenished.
    ReplenishmentPolicy,
    /// How Ordo reaches a channel: its connector, webhook secrets and credentials.
    Connector,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::Price,
        ChangeKind::TaxClass,
        ChangeKind::Listing,
        ChangeKind::SkuActivation,
        ChangeKind::LocationPriority,
        ChangeKind::ReplenishmentPolicy,
        ChangeKind::Connector,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Price => "price",
            ChangeKind::TaxClass => "tax_class",
            ChangeKind::Listing => "listing",
            ChangeKind::SkuActivation => "sku_activation",
            ChangeKind::LocationPriority => "location_priority",
            ChangeKind::ReplenishmentPolicy => "replenishment_policy",
            ChangeKind::Connector => "connector",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<ChangeKind, FieldError> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
            let names: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }

    /// Who may approve it: money and tax are finance's; what is sold and from where, ops's;
    /// what is bought, procurement's; an admin may approve any.
    pub fn approvers(self) -> &'static [Role] {
        match self {
            ChangeKind::Price | ChangeKind::TaxClass => &[Role::Finance, Role::Admin],
            ChangeKind::Listing | ChangeKind::SkuActivation | ChangeKind::LocationPriority | ChangeKind::Connector => {
                &[Role::Ops, Role::Admin]
            }
            ChangeKind::ReplenishmentPolicy => &[Role::Procurement, Role::Admin],
        }
    }
}

/// A proposed change, checked for shape; whether its subject exists is the application's to
/// check.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// `price` is a decimal string in the listing's currency.
    Price { channel: String, channel_sku: String, price: String },
    TaxClass { sku: String, tax_class: String },
    Listing { channel: String, channel_sku: String, sku: String, price: String },
    SkuActivation { sku: String, active: bool },
    LocationPriority { location: String, priority: i64 },
    /// `scope` is `sku:CODE` or `class:A`, `B` or `C`.
    ReplenishmentPolicy { scope: String, policy: crate::procurement::Policy },
    /// A channel's connector, its secrets already sealed by the application.
    Connector { channel: String, settings: crate::connector::ConnectorSettings },
}

impl Proposal {
    /// The proposal of `kind` from the request's `change` object; errors name `change.FIELD`.
    pub fn parse(kind: ChangeKind, change: &serde_json::Value) -> Result<Proposal, FieldError> {
        if !change.is_object() {
            return Err(FieldError::new("change", "must be an object"));
        }
        let text = |name: &str| change.get(name).and_then(|v| v.as_str()).unwrap_or_default().trim().to_owned();
        let code = |name: &str| crate::field::code(&format!("change.{name}"), &text(name));
        let price = || {
            let price = text("price");
            if price.is_empty() {
                return Err(FieldError::new("change.price", "a decimal string such as \"24.90\" is needed"));
            }
            Ok(price)
        };
        Ok(match kind {
            ChangeKind::Price => Proposal::Price { channel: code("channel")?, channel_sku: code("channel_sku")?, price: price()? },
            ChangeKind::TaxClass => Proposal::TaxClass { sku: code("sku")?, tax_class: code("tax_class")? },
            ChangeKind::Listing => {
                Proposal::Listing { channel: code("channel")?, channel_sku: code("channel_sku")?, sku: code("sku")?, price: price()? }
            }
            ChangeKind::SkuActivation => Proposal::SkuActivation {
                sku: code("sku")?,
                active: change.get("active").and_then(|v| v.as_bool()).ok_or_else(|| FieldError::new("change.active", "must be true or false"))?,
            },
            ChangeKind::LocationPriority => Proposal::LocationPriority {
                location: code("location")?,
                priority: crate::field::bounded(
                    "change.priority",
                    change.get("priority").and_then(|v| v.as_i64()).ok_or_else(|| FieldError::new("change.priority", "must be a whole number"))?,
                    0,
                    1_000_000,
                )?,
            },
            ChangeKind::ReplenishmentPolicy => {
                let scope = text("scope");
                let valid = match scope.split_once(':') {
                    Some(("sku", sku)) => crate::field::code("change.scope", sku).is_ok(),
                    Some(("class", class)) => matches!(class, "A" | "B" | "C"),
                    _ => false,
                };
                if !valid {
                    return Err(FieldError::new("change.scope", "must be sku:CODE or class:A, class:B or class:C"));
                }
                let policy: crate::procurement::Policy = serde_json::from_value(change.get("policy").cloned().unwrap_or_default())
                    .map_err(|e| FieldError::new("change.policy", format!("must be a policy (kind reorder_point, min_max or periodic_review): {e}")))?;
                policy.validate().map_err(|e| FieldError::new(format!("change.policy.{}", e.field), e.message))?;
                Proposal::ReplenishmentPolicy { scope, policy }
            }
            ChangeKind::Connector => Proposal::Connector {
                channel: code("channel")?,
                settings: serde_json::from_value(change.get("connector").cloned().unwrap_or_default())
                    .map_err(|e| FieldError::new("change.connector", format!("must be a connector's settings: {e}")))?,
            },
        })
    }

    /// What the change is about, `kind:key`, as the audit log names it.
    pub fn subject(&self) -> String {
        match self {
            Proposal::Price { channel, channel_sku, .. } | Proposal::Listing { channel, channel_sku, .. } => {
                format!("listing:{channel}/{channel_sku}")
            }
            Proposal::TaxClass { sku, .. } | Proposal::SkuActivation { sku, .. } => format!("product:{sku}"),
            Proposal::LocationPriority { location, .. } => format!("location:{location}"),
            Proposal::ReplenishmentPolicy { scope, .. } => format!("policy:{scope}"),
            Proposal::Connector { channel, .. } => format!("connector:{channel}"),
        }
    }

    /// The change as it may be shown: a connector's secrets only as changed or not.
    pub fn shown(&self, change: &serde_json::Value) -> serde_json::Value {
        match self {
            Proposal::Connector { channel, settings } => serde_json::json!({"channel": channel, "connector": settings.shown()}),
            _ => change.clone(),
        }
    }
}

/// Where a change request stands: pending until another person approves it (and it is
/// applied) or rejects it, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    Pending,
    Approved,
    Rejected,
}
named!(ChangeStatus, "a status", { Pending => "pending", Approved => "approved", Rejected => "rejected" });

impl ChangeStatus {
    pub fn can_become(self, next: ChangeStatus) -> bool {
        matches!((self, next), (ChangeStatus::Pending, ChangeStatus::Approved | ChangeStatus::Rejected))
    }
}

/// A change request as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequest {
    pub id: uuid::Uuid,
    pub kind: String,
    pub subject: String,
    /// The proposed values, as proposed.
    pub change: serde_json::Value,
    /// The state when proposed, and once decided the state just before it was applied.
    pub before: serde_json::Value,
    /// The state after it was applied; none until approved.
    pub after: Option<serde_json::Value>,
    pub reason: String,
    pub status: ChangeStatus,
    pub proposed_by: String,
    pub proposed_at: chrono::DateTime<chrono::Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decision_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_checked_by_kind_and_name_their_subject() {
        let price = Proposal::parse(ChangeKind::Price, &serde_json::json!({"channel": "web", "channel_sku": "W-MUG", "price": "13.50"})).unwrap();
        assert_eq!(price.subject(), "listing:web/W-MUG");
        assert_eq!(Proposal::parse(ChangeKind::Price, &serde_json::json!({"channel": "web", "channel_sku": "W-MUG"})).unwrap_err().field, "change.price");
        let off = Proposal::parse(ChangeKind::SkuActivation, &serde_json::json!({"sku": "MUG-1", "active": false})).unwrap();
        assert_eq!(off, Proposal::SkuActivation { sku: "MUG-1".into(), active: false });
        assert_eq!(Proposal::parse(ChangeKind::SkuActivation, &serde_json::json!({"sku": "MUG-1"})).unwrap_err().field, "change.active");
        assert_eq!(Proposal::parse(ChangeKind::LocationPriority, &serde_json::json!({"location": "x", "priority": -1})).unwrap_err().field, "change.priority");
        assert_eq!(Proposal::parse(ChangeKind::TaxClass, &serde_json::json!([])).unwrap_err().field, "change");
        assert_eq!(ChangeKind::parse("kind", "colour").unwrap_err().field, "kind");
        assert!(ChangeKind::Price.approvers().contains(&Role::Finance) && !ChangeKind::Price.approvers().contains(&Role::Ops));
    }

    proptest::proptest! {
        /// No change object, however odd, makes the parser panic; what it accepts names a
        /// subject.
        #[test]
        fn no_change_makes_the_parser_panic(json in "\\PC{0,120}", kind in 0usize..6) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&json)
                && let Ok(proposal) = Proposal::parse(ChangeKind::ALL[kind], &value)
            {
                proptest::prop_assert!(proposal.subject().contains(':'));
            }
        }
    }

    #[test]
    fn a_replenishment_policy_names_its_scope_and_checks_its_numbers() {
        let ok = serde_json::json!({"scope": "class:A", "policy": {"kind": "periodic_review", "review_days": 7, "service_level": 0.9}});
        assert_eq!(Proposal::parse(ChangeKind::ReplenishmentPolicy, &ok).unwrap().subject(), "policy:class:A");
        let bad_scope = serde_json::json!({"scope": "class:D", "policy": {"kind": "min_max", "min": 1, "max": 2}});
        assert_eq!(Proposal::parse(ChangeKind::ReplenishmentPolicy, &bad_scope).unwrap_err().field, "change.scope");
        let bad_level = serde_json::json!({"scope": "sku:MUG-1", "policy": {"kind": "reorder_point", "service_level": -0.5, "cover_days": 7}});
        assert_eq!(Proposal::parse(ChangeKind::ReplenishmentPolicy, &bad_level).unwrap_err().field, "change.policy.service_level");
    }
}

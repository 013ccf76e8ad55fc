//! Master data that intake reads for every order (channels, listings, products, tax rates,
//! kits, routing sites), kept in memory for a moment so the hot path does not ask the database
//! again and again. This process forgets everything whenever it changes master data; changes
//! another process makes are seen within [`MasterCache::TTL`]. A line the cache cannot resolve
//! is checked against the database before it is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ordo_domain::master::{Channel, Listing, Product};
use ordo_storage::RoutingSites;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Channel(String),
    Listing(String, String),
    Product(String),
    TaxRate(String, String),
    Kit(String),
    /// Channel, shipping method, and whether the channel ships the order itself.
    Sites(String, String, bool),
    ChannelStats(String),
    /// The rules of one kind in force.
    Rules(ordo_domain::rules::RuleKind),
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Channel(Option<Channel>),
    Listing(Option<Listing>),
    Product(Option<Product>),
    TaxRate(Option<i64>),
    Kit(Vec<(String, i64)>),
    Sites(RoutingSites),
    ChannelStats(ordo_domain::decide::ChannelStats),
    Rules(std::sync::Arc<Vec<ordo_domain::decide::CompiledRule>>),
}

#[derive(Debug, Default)]
pub struct MasterCache {
    entries: Mutex<HashMap<Key, (Instant, Value)>>,
}

impl MasterCache {
    /// How long another process's change may go unseen.
    pub const TTL: Duration = Duration::from_secs(1);

    /// The value kept for `key`, unless it is older than [`MasterCache::TTL`]. The first
    /// caller to find it old gets nothing and reads the database; the others keep the old
    /// value meanwhile, so a busy moment's requests do not all read the same row at once.
    pub(crate) fn get(&self, key: &Key) -> Option<Value> {
        let mut entries = self.entries.lock().ok()?;
        let (at, value) = entries.get_mut(key)?;
        if at.elapsed() < Self::TTL {
            return Some(value.clone());
        }
        *at = Instant::now();
        None
    }

    pub(crate) fn put(&self, key: Key, value: Value) {
        if let Ok(mut entries) = self.entries.lock() {
            // Bounded: a flood of distinct keys starts it over rather than growing it.
            if entries.len() > 100_000 {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    /// Forgets everything: this process just changed master data.
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Reads `$key` from `$cache` as `$variant`, or runs `$load` (an expression awaiting the
/// database) and keeps its answer.
macro_rules! cached {
    ($cache:expr, $key:expr, $variant:ident, $load:expr) => {{
        let key = $key;
        match $cache.get(&key) {
            Some($crate::cache::Value::$variant(value)) => value,
            _ => {
                let value = $load;
                $cache.put(key, $crate::cache::Value::$variant(value.clone()));
                value
            }
        }
    }};
}
pub(crate) use cached;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_forgotten_on_clear() {
        let cache = MasterCache::default();
        cache.put(Key::TaxRate("DE".into(), "standard".into()), Value::TaxRate(Some(1900)));
        assert!(matches!(cache.get(&Key::TaxRate("DE".into(), "standard".into())), Some(Value::TaxRate(Some(1900)))));
        cache.clear();
        assert!(cache.get(&Key::TaxRate("DE".into(), "standard".into())).is_none());
    }

    #[test]
    fn an_old_entry_is_read_again_by_one_caller_while_the_others_keep_it() {
        let cache = MasterCache::default();
        let key = Key::TaxRate("DE".into(), "standard".into());
        cache.put(key.clone(), Value::TaxRate(Some(1900)));
        if let Ok(mut entries) = cache.entries.lock()
            && let Some((at, _)) = entries.get_mut(&key)
        {
            *at -= MasterCache::TTL;
        }
        assert!(cache.get(&key).is_none(), "the first caller reads the database");
        assert!(matches!(cache.get(&key), Some(Value::TaxRate(Some(1900)))), "the next keeps the old value meanwhile");
        cache.put(key.clone(), Value::TaxRate(Some(2000)));
        assert!(matches!(cache.get(&key), Some(Value::TaxRate(Some(2000)))));
    }
}

//! Names for what records point at. The audit log, exceptions and notifications name their
//! subject as `kind:id` (`order:0193…`); people know an order by its channel and number, a
//! return by its order, a purchase order by its number. This finds those names, a page of
//! subjects at a time.

use std::collections::HashMap;

use ordo_storage::NamedKind;
use uuid::Uuid;

use crate::{AppResult, Ordo};

impl Ordo {
    /// The name of each subject (`kind:uuid`) that has one, keyed by the subject as given.
    /// Subjects that name themselves (`channel:web`, `sku:MUG-1`) or point at nothing that
    /// exists are left out: the caller shows them as they are.
    pub async fn subject_names<'a>(&self, subjects: impl IntoIterator<Item = &'a str>) -> AppResult<HashMap<String, String>> {
        let mut wanted: HashMap<NamedKind, Vec<(Uuid, &'a str)>> = HashMap::new();
        for subject in subjects {
            let Some((prefix, id)) = subject.split_once(':') else { continue };
            let (Some(kind), Ok(id)) = (NamedKind::parse(prefix), Uuid::try_parse(id)) else { continue };
            wanted.entry(kind).or_default().push((id, subject));
        }
        let mut names = HashMap::new();
        if wanted.is_empty() {
            return Ok(names);
        }
        let mut tx = self.db.read().await?;
        for (kind, refs) in wanted {
            let mut ids: Vec<Uuid> = refs.iter().map(|(id, _)| *id).collect();
            ids.sort();
            ids.dedup();
            let found: HashMap<Uuid, String> = tx.names(kind, &ids).await?.into_iter().collect();
            for (id, subject) in refs {
                if let Some(name) = found.get(&id) {
                    names.insert(subject.to_owned(), name.clone());
                }
            }
        }
        Ok(names)
    }
}

//! CSV import of master data.
//!
//! A file is read whole, every row is checked, and every bad row is reported with its line
//! number. Nothing is imported from a file with a bad row unless the caller asks to skip bad
//! rows; then the good rows go in, in one transaction. Column names are the API's field names.

use std::collections::HashSet;

use ordo_domain::audit::Change;
use ordo_domain::master::{NewChannel, NewCustomer, NewListing, NewLocation, NewProduct, NewSupplier};
use ordo_domain::FieldError;
use ordo_storage::Tx;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{Actor, AppError, AppResult, MasterData, Progress};

/// What a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Channels,
    Locations,
    Products,
    Listings,
    Customers,
    Suppliers,
}

impl ImportKind {
    pub const ALL: [ImportKind; 6] = [
        ImportKind::Channels,
        ImportKind::Locations,
        ImportKind::Products,
        ImportKind::Listings,
        ImportKind::Customers,
        ImportKind::Suppliers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Channels => "channels",
            ImportKind::Locations => "locations",
            ImportKind::Products => "products",
            ImportKind::Listings => "listings",
            ImportKind::Customers => "customers",
            ImportKind::Suppliers => "suppliers",
        }
    }

    /// The columns a file may have; the first `required` of them it must have.
    fn columns(self) -> (&'static [&'static str], usize) {
        match self {
            ImportKind::Channels => (&["code", "name", "kind", "currency", "ship_by_sla_hours"], 4),
            ImportKind::Locations => (&["code", "name", "kind", "priority", "time_zone", "cutoff_time"], 4),
            ImportKind::Products => {
                (&["sku", "name", "unit_cost", "weight_grams", "tax_class", "abc_class", "active"], 3)
            }
            ImportKind::Listings => (&["channel", "channel_sku", "sku", "price"], 4),
            ImportKind::Customers => (&["email", "name", "segment"], 2),
            ImportKind::Suppliers => (&["code", "name", "currency", "lead_time_days"], 4),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Import the good rows of a file that has bad ones.
    pub skip_invalid: bool,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line in the file, counting the header as line 1.
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {field}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    pub imported: u64,
    pub errors: Vec<RowError>,
}

fn row_error(line: u64, error: FieldError) -> RowError {
    RowError { line, field: Some(error.field), message: error.message }
}

/// Parses every row; the good ones come back with their line numbers.
fn parse_rows<N: DeserializeOwned>(
    kind: ImportKind,
    data: &[u8],
    errors: &mut Vec<RowError>,
) -> Result<Vec<(u64, N)>, FieldError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
    let headers = reader.headers().map_err(|e| FieldError::new("header", e.to_string()))?.clone();
    let (allowed, required) = kind.columns();
    if let Some(unknown) = headers.iter().find(|h| !allowed.contains(h)) {
        return Err(FieldError::new(
            "header",
            format!("unknown column {unknown:?}; {} files have: {}", kind.as_str(), allowed.join(", ")),
        ));
    }
    if let Some(missing) = allowed[..required].iter().find(|c| !headers.iter().any(|h| h == **c)) {
        return Err(FieldError::new("header", format!("missing column {missing:?}")));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError { line, field: None, message: e.to_string() });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        // Blank optional cells mean "use the default", as an absent JSON field does.
        let present: Vec<(&str, &str)> =
            headers.iter().zip(record.iter()).filter(|(_, value)| !value.is_empty()).collect();
        let (names, values): (Vec<&str>, Vec<&str>) = present.into_iter().unzip();
        match csv::StringRecord::from(values).deserialize::<N>(Some(&csv::StringRecord::from(names))) {
            Ok(row) => rows.push((line, row)),
            Err(e) => errors.push(csv_field_error(line, &e, &headers)),
        }
    }
    Ok(rows)
}

/// Names the column a csv deserialisation error is about where the error lets us.
fn csv_field_error(line: u64, error: &csv::Error, headers: &csv::StringRecord) -> RowError {
    let message = match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => error.to_string(),
    };
    let field = match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            err.field().and_then(|i| headers.get(i as usize)).map(str::to_owned).or_else(|| {
                // "missing field `name`" names it in backticks.
                message.split('`').nth(1).map(str::to_owned)
            })
        }
        _ => None,
    };
    RowError { line, field, message }
}

impl MasterData<'_> {
    /// Imports a CSV file of `kind`; see the module documentation for what happens to bad rows.
    pub async fn import_csv(
        &self,
        kind: ImportKind,
        data: &[u8],
        options: ImportOptions,
        progress: &dyn Progress,
        actor: &Actor,
    ) -> AppResult<ImportReport> {
        match kind {
            ImportKind::Channels => {
                self.import::<NewChannel, _>(kind, data, options, progress, actor, |n| n.code.clone(), async |tx, n| {
                    let channel = n.validate()?;
                    inserted(tx.insert_channel(&channel, self.now()).await?, "code", &channel.code)?;
                    Ok(Change::new("channel.create", format!("channel:{}", channel.code)).after(&channel))
                })
                .await
            }
            ImportKind::Locations => {
                self.import::<NewLocation, _>(kind, data, options, progress, actor, |n| n.code.clone(), async |tx, n| {
                    let location = n.validate()?;
                    inserted(tx.insert_location(&location, self.now()).await?, "code", &location.code)?;
                    Ok(Change::new("location.create", format!("location:{}", location.code)).after(&location))
                })
                .await
            }
            ImportKind::Products => {
                let base = self.settings.base_currency;
                self.import::<NewProduct, _>(kind, data, options, progress, actor, |n| n.sku.clone(), async |tx, n| {
                    let product = n.validate(base)?;
                    inserted(tx.insert_product(&product, self.now()).await?, "sku", &product.sku)?;
                    Ok(Change::new("product.create", format!("product:{}", product.sku)).after(&product))
                })
                .await
            }
            ImportKind::Listings => {
                let key = |n: &NewListing| format!("{}/{}", n.channel, n.channel_sku);
                self.import::<NewListing, _>(kind, data, options, progress, actor, key, async |tx, n| {
                    let listing = self.validate_listing(tx, n).await?;
                    inserted(tx.insert_listing(&listing, self.now()).await?, "channel_sku", &listing.channel_sku)?;
                    let subject = format!("listing:{}/{}", listing.channel, listing.channel_sku);
                    Ok(Change::new("listing.create", subject).after(&listing))
                })
                .await
            }
            ImportKind::Customers => {
                let key = |n: &NewCustomer| n.email.trim().to_ascii_lowercase();
                self.import::<NewCustomer, _>(kind, data, options, progress, actor, key, async |tx, n| {
                    let customer = n.validate(Uuid::now_v7(), self.now())?;
                    inserted(tx.insert_customer(&customer).await?, "email", &customer.email)?;
                    Ok(Change::new("customer.create", format!("customer:{}", customer.id)).after(&customer))
                })
                .await
            }
            ImportKind::Suppliers => {
                self.import::<NewSupplier, _>(kind, data, options, progress, actor, |n| n.code.clone(), async |tx, n| {
                    let supplier = n.validate()?;
                    inserted(tx.insert_supplier(&supplier, self.now()).await?, "code", &supplier.code)?;
                    Ok(Change::new("supplier.create", format!("supplier:{}", supplier.code)).after(&supplier))
                })
                .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn import<N: DeserializeOwned, K: Fn(&N) -> String>(
        &self,
        kind: ImportKind,
        data: &[u8],
        options: ImportOptions,
        progress: &dyn Progress,
        actor: &Actor,
        key: K,
        insert: impl AsyncFn(&mut Tx, N) -> AppResult<Change>,
    ) -> AppResult<ImportReport> {
        let mut errors = Vec::new();
        let rows: Vec<(u64, N)> = parse_rows(kind, data, &mut errors).map_err(AppError::Invalid)?;
        let total = rows.len() as u64 + errors.len() as u64;
        progress.start(total);
        for _ in &errors {
            progress.advance();
        }

        let mut seen = HashSet::new();
        let mut changes = Vec::new();
        let mut tx = self.db.write().await?;
        for (line, row) in rows {
            progress.advance();
            if !seen.insert(key(&row)) {
                errors.push(RowError { line, field: None, message: "repeats an earlier row of this file".into() });
                continue;
            }
            match insert(&mut tx, row).await {
                Ok(change) => changes.push(change),
                Err(AppError::Invalid(e) | AppError::Duplicate(e)) => errors.push(row_error(line, e)),
                Err(other) => return Err(other),
            }
        }
        errors.sort_by_key(|e| e.line);
        if !errors.is_empty() && !options.skip_invalid {
            // Dropping the transaction rolls every row back.
            return Ok(ImportReport { rows: total, imported: 0, errors });
        }
        crate::audit::record(&mut tx, actor, self.now(), &changes).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(ImportReport { rows: total, imported: changes.len() as u64, errors })
    }
}

fn inserted(inserted: bool, field: &str, key: &str) -> AppResult<()> {
    if inserted {
        Ok(())
    } else {
        Err(AppError::Duplicate(FieldError::new(field, format!("{key:?} already exists"))))
    }
}

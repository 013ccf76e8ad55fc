//! Master data use cases: create and read channels, locations, products, listings,
//! customers and suppliers.

use ordo_domain::calendar::{Calendar, NewCalendar};
use ordo_domain::master::{
    Channel, Customer, Listing, Location, NewChannel, NewCustomer, NewListing, NewLocation, NewProduct, NewSupplier,
    Product, Supplier,
};
use ordo_domain::FieldError;
use ordo_storage::{MasterDataCounts, ProductPage, ProductQuery, Tx};
use uuid::Uuid;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, MasterData};

/// The most rows one page of a list returns.
pub const MAX_PAGE_SIZE: i64 = 500;

fn duplicate(field: &str, value: &str) -> AppError {
    AppError::Duplicate(FieldError::new(field, format!("{value:?} already exists")))
}

impl MasterData<'_> {
    pub async fn create_channel(self, new: NewChannel, actor: &Actor) -> AppResult<Channel> {
        let channel = new.validate()?;
        let mut tx = self.db.write().await?;
        if !tx.insert_channel(&channel, self.now()).await? {
            return Err(duplicate("code", &channel.code));
        }
        record(&mut tx, actor, self.now(), &[Change::new("channel.create", format!("channel:{}", channel.code)).after(&channel)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(channel)
    }

    /// What is missing for a channel to trade in full: a rate for its currency, without which
    /// its orders and settlements are refused alike.
    pub async fn channel_warnings(self, channel: &Channel) -> AppResult<Vec<String>> {
        let base = self.settings.base_currency;
        if channel.currency == base || self.db.read().await?.exchange_rate(channel.currency.code(), self.now()).await?.is_some() {
            return Ok(Vec::new());
        }
        let code = channel.currency.code();
        Ok(vec![format!(
            "no exchange rate from {code} to the base currency {base} yet: the channel's orders and settlements are refused until one is set with PUT /api/v1/exchange-rates/{code} or ordo rates import"
        )])
    }

    pub async fn channels(self) -> AppResult<Vec<Channel>> {
        Ok(self.db.read().await?.channels().await?)
    }

    pub async fn channel(self, code: &str) -> AppResult<Channel> {
        self.db.read().await?.channel(code).await?.ok_or_else(|| AppError::NotFound { what: "channel", key: code.into() })
    }

    pub async fn create_location(self, new: NewLocation, actor: &Actor) -> AppResult<Location> {
        let location = new.validate()?;
        let mut tx = self.db.write().await?;
        if let Some(channel) = &location.managed_by
            && tx.channel(channel).await?.is_none()
        {
            return Err(FieldError::new("managed_by", format!("unknown channel {channel:?}")).into());
        }
        if !tx.insert_location(&location, self.now()).await? {
            return Err(duplicate("code", &location.code));
        }
        record(&mut tx, actor, self.now(), &[Change::new("location.create", format!("location:{}", location.code)).after(&location)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(location)
    }

    pub async fn locations(self) -> AppResult<Vec<Location>> {
        Ok(self.db.read().await?.locations().await?)
    }

    pub async fn create_product(self, new: NewProduct, actor: &Actor) -> AppResult<Product> {
        let product = new.validate(self.settings.base_currency)?;
        let mut tx = self.db.write().await?;
        if !tx.insert_product(&product, self.now()).await? {
            return Err(duplicate("sku", &product.sku));
        }
        record(&mut tx, actor, self.now(), &[Change::new("product.create", format!("product:{}", product.sku)).after(&product)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(product)
    }

    pub async fn product(self, sku: &str) -> AppResult<Product> {
        self.db.read().await?.product(sku).await?.ok_or_else(|| AppError::NotFound { what: "product", key: sku.into() })
    }

    /// Makes `kit` a kit of `components` (replacing what it held), or an ordinary product again
    /// with none. Components must be products that are not kits themselves, and a kit cannot
    /// be a component of another.
    pub async fn set_kit_components(
        &self,
        kit: &str,
        components: Vec<ordo_domain::master::KitComponent>,
        actor: &Actor,
    ) -> AppResult<Vec<ordo_domain::master::KitComponent>> {
        let components = ordo_domain::master::check_kit(kit, components)?;
        let mut tx = self.db.write().await?;
        if tx.product(kit).await?.is_none() {
            return Err(AppError::NotFound { what: "product", key: kit.into() });
        }
        if !components.is_empty() && let Some(outer) = tx.kits_containing(kit).await?.into_iter().next() {
            return Err(FieldError::new("components", format!("{kit} is a component of the kit {outer}; kits do not nest")).into());
        }
        for (i, c) in components.iter().enumerate() {
            let field = format!("components[{i}].sku");
            if tx.product(&c.sku).await?.is_none() {
                return Err(FieldError::new(field, format!("unknown SKU {:?}", c.sku)).into());
            }
            if !tx.kit_components(&c.sku).await?.is_empty() {
                return Err(FieldError::new(field, format!("{} is a kit itself; kits do not nest", c.sku)).into());
            }
        }
        let rows: Vec<(String, i64)> = components.iter().map(|c| (c.sku.clone(), c.quantity)).collect();
        let before = tx.kit_components(kit).await?;
        tx.set_kit_components(kit, &rows).await?;
        let change = Change::new("product.set_kit", format!("product:{kit}")).before(before).after(&rows);
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(components)
    }

    /// A kit's components; empty for a product that is not a kit.
    pub async fn kit_components(self, kit: &str) -> AppResult<Vec<ordo_domain::master::KitComponent>> {
        let mut tx = self.db.read().await?;
        if tx.product(kit).await?.is_none() {
            return Err(AppError::NotFound { what: "product", key: kit.into() });
        }
        let rows = tx.kit_components(kit).await?;
        Ok(rows.into_iter().map(|(sku, quantity)| ordo_domain::master::KitComponent { sku, quantity }).collect())
    }

    /// Products matching `search` (SKU or name), `limit` at a time from `offset`.
    pub async fn products(self, search: Option<&str>, limit: i64, offset: i64) -> AppResult<ProductPage> {
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > ordo_domain::field::MAX_TEXT_LEN) {
            return Err(FieldError::new("q", "is too long").into());
        }
        let query = ProductQuery {
            search: search.map(str::to_owned),
            limit: ordo_domain::field::bounded("limit", limit, 1, MAX_PAGE_SIZE)?,
            offset: ordo_domain::field::bounded("offset", offset, 0, i64::MAX)?,
        };
        Ok(self.db.read().await?.products(&query).await?)
    }

    pub async fn create_listing(self, new: NewListing, actor: &Actor) -> AppResult<Listing> {
        let mut tx = self.db.write().await?;
        let listing = self.validate_listing(&mut tx, new).await?;
        if !tx.insert_listing(&listing, self.now()).await? {
            return Err(duplicate("channel_sku", &listing.channel_sku));
        }
        let subject = format!("listing:{}/{}", listing.channel, listing.channel_sku);
        record(&mut tx, actor, self.now(), &[Change::new("listing.create", subject).after(&listing)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(listing)
    }

    /// A listing's price is in its channel's currency, and both ends must exist.
    pub(crate) async fn validate_listing(self, tx: &mut Tx, new: NewListing) -> AppResult<Listing> {
        let channel = ordo_domain::field::code("channel", &new.channel)?;
        let Some(channel) = tx.channel(&channel).await? else {
            return Err(FieldError::new("channel", format!("unknown channel {channel:?}")).into());
        };
        let listing = new.validate(channel.currency)?;
        if tx.product(&listing.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", listing.sku)).into());
        }
        Ok(listing)
    }

    pub async fn listings(self, channel: Option<&str>) -> AppResult<Vec<Listing>> {
        Ok(self.db.read().await?.listings(channel).await?)
    }

    pub async fn create_customer(self, new: NewCustomer, actor: &Actor) -> AppResult<Customer> {
        let customer = new.validate(Uuid::now_v7(), self.now())?;
        let mut tx = self.db.write().await?;
        if !tx.insert_customer(&customer).await? {
            return Err(duplicate("email", &customer.email));
        }
        record(&mut tx, actor, self.now(), &[Change::new("customer.create", format!("customer:{}", customer.id)).after(&customer)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(customer)
    }

    pub async fn customers(self, limit: i64, offset: i64) -> AppResult<Vec<Customer>> {
        let limit = ordo_domain::field::bounded("limit", limit, 1, MAX_PAGE_SIZE)?;
        let offset = ordo_domain::field::bounded("offset", offset, 0, i64::MAX)?;
        Ok(self.db.read().await?.customers(limit, offset).await?)
    }

    pub async fn create_supplier(self, new: NewSupplier, actor: &Actor) -> AppResult<Supplier> {
        let supplier = new.validate()?;
        let mut tx = self.db.write().await?;
        if !tx.insert_supplier(&supplier, self.now()).await? {
            return Err(duplicate("code", &supplier.code));
        }
        record(&mut tx, actor, self.now(), &[Change::new("supplier.create", format!("supplier:{}", supplier.code)).after(&supplier)]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(supplier)
    }

    pub async fn suppliers(self) -> AppResult<Vec<Supplier>> {
        Ok(self.db.read().await?.suppliers().await?)
    }

    pub async fn master_data_counts(self) -> AppResult<MasterDataCounts> {
        Ok(self.db.read().await?.master_data_counts().await?)
    }

    /// Sets the tax rate for goods of `tax_class` shipped to `country`, as a percentage.
    pub async fn set_tax_rate(self, country: &str, tax_class: &str, percent: &str, actor: &Actor) -> AppResult<i64> {
        let country = ordo_domain::field::country("country", country)?;
        let tax_class = ordo_domain::field::code("tax_class", tax_class)?;
        let rate = ordo_domain::field::percent_basis_points("rate", percent)?;
        let mut tx = self.db.write().await?;
        tx.set_tax_rate(&country, &tax_class, rate).await?;
        let change = Change::new("tax_rate.set", format!("tax_rate:{country}/{tax_class}"))
            .after(serde_json::json!({"rate": ordo_domain::ledger::percent(rate)}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(rate)
    }

    /// Sets whether a channel's orders may split across locations and which locations may
    /// serve it (none: all). Returns the setting as stored.
    pub async fn set_channel_routing(
        &self,
        channel: &str,
        allow_split: bool,
        locations: &[String],
        actor: &Actor,
    ) -> AppResult<(bool, Vec<String>)> {
        let mut tx = self.db.write().await?;
        if tx.channel(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        }
        let mut codes = Vec::with_capacity(locations.len());
        for (i, location) in locations.iter().enumerate() {
            let field = format!("locations[{i}]");
            let code = ordo_domain::field::code(&field, location)?;
            if tx.location(&code).await?.is_none() {
                return Err(FieldError::new(field, format!("unknown location {code:?}")).into());
            }
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let before = tx.channel_routing(channel).await?;
        tx.set_channel_routing(channel, allow_split, &codes).await?;
        let stored = tx.channel_routing(channel).await?;
        let state = |(allow_split, locations): &(bool, Vec<String>)| serde_json::json!({"allow_split": allow_split, "locations": locations});
        let change = Change::new("channel.set_routing", format!("channel:{channel}")).before(state(&before)).after(state(&stored));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(stored)
    }

    /// A channel's routing in force: split allowed, and the locations that may serve it
    /// (none: every location).
    pub async fn channel_routing(self, channel: &str) -> AppResult<(bool, Vec<String>)> {
        let mut tx = self.db.read().await?;
        if tx.channel(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        }
        Ok(tx.channel_routing(channel).await?)
    }

    /// Each location's shipping methods by its code; a location offering every method is not
    /// named.
    pub async fn shipping_methods(self) -> AppResult<std::collections::BTreeMap<String, Vec<String>>> {
        let mut by_location: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for (location, method) in self.db.read().await?.location_shipping_methods().await? {
            by_location.entry(location).or_default().push(method);
        }
        Ok(by_location)
    }

    /// Sets the shipping methods a location offers (none: every method).
    pub async fn set_shipping_methods(self, location: &str, methods: &[String], actor: &Actor) -> AppResult<Vec<String>> {
        let mut codes = Vec::with_capacity(methods.len());
        for (i, method) in methods.iter().enumerate() {
            let code = ordo_domain::field::code(&format!("methods[{i}]"), method)?;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let mut tx = self.db.write().await?;
        if tx.location(location).await?.is_none() {
            return Err(AppError::NotFound { what: "location", key: location.to_owned() });
        }
        tx.set_shipping_methods(location, &codes).await?;
        let change = Change::new("location.set_shipping_methods", format!("location:{location}")).after(&codes);
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(codes)
    }

    /// Sets the weekdays and dates a location does not work. Orders routed from then on get
    /// ship-by dates on its working days; those already routed keep theirs.
    pub async fn set_location_calendar(self, location: &str, calendar: NewCalendar, actor: &Actor) -> AppResult<Calendar> {
        let calendar = calendar.validate()?;
        let mut tx = self.db.write().await?;
        let Some(known) = tx.location(location).await? else { return Err(AppError::NotFound { what: "location", key: location.to_owned() }) };
        tx.set_location_calendar(location, &calendar).await?;
        let change = Change::new("location.calendar", format!("location:{location}")).before(&known.calendar).after(&calendar);
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        self.cache.clear();
        Ok(calendar)
    }
}

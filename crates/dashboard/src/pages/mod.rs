//! The dashboard's pages: which exist, who may see each, the layout they share, and paging.

pub(crate) mod audit;
pub(crate) mod changes;
pub(crate) mod channels;
pub(crate) mod counting;
pub(crate) mod exceptions;
pub(crate) mod fulfilment;
pub(crate) mod helpdesk;
pub(crate) mod holds;
pub(crate) mod inventory;
pub(crate) mod ledger;
pub(crate) mod master;
pub(crate) mod notifications;
pub(crate) mod orders;
pub(crate) mod overview;
pub(crate) mod procurement;
pub(crate) mod returns;
pub(crate) mod review;
pub(crate) mod rules;
pub(crate) mod settings;
pub(crate) mod users;
pub(crate) mod workload;

use chrono::{DateTime, Utc};
use ordo_domain::FieldError;

use crate::error::{PageError, Problem};
pub(crate) use crate::layout::{Layout, Page};
use crate::href::with_query;
use crate::session::Session;

/// One choice in a drop-down.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

pub(crate) async fn not_found(session: Session) -> PageError {
    session.layout("Not found").fail(Problem::NotFound)
}

/// A posted form's fields, repeated names kept (a queue's check boxes all share one).
pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of a posted field, empty when it was not sent.
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// The comma-separated items typed into `name`, each trimmed, the empty ones left out.
pub(crate) fn comma_list(fields: &[(String, String)], name: &str) -> Vec<String> {
    field(fields, name).split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// A day typed into a filter (`YYYY-MM-DD`), none when left empty.
pub(crate) fn day(field: &str, text: &str) -> Result<Option<chrono::NaiveDate>, FieldError> {
    match text.trim() {
        "" => Ok(None),
        text => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| FieldError::new(field, "must be a date such as 2026-11-27")),
    }
}

/// From a moment (included) up to another (not included); either end may be open.
pub(crate) type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The moments a list's `from` and `to` days (`YYYY-MM-DD`, both included, either may be
/// empty) cover, in the reader's time zone: from the first moment of `from` up to, not
/// including, the first of the day after `to`.
pub(crate) fn days_in_reader_zone(from: &str, to: &str) -> Result<Span, FieldError> {
    let (from, to) = (day("from", from)?, day("to", to)?);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(FieldError::new("to", "must not be before from"));
    }
    Ok((from.map(day_start), to.and_then(|to| to.succ_opt()).map(day_start)))
}

/// The first moment of `day` in the reader's time zone (UTC unless they chose one).
pub(crate) fn day_start(day: chrono::NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    let zone = VIEWER_ZONE.try_with(|zone| *zone).unwrap_or(chrono_tz::UTC);
    // Where a clock change skips midnight, the day starts when the clocks resume.
    (0..3)
        .find_map(|hour| zone.from_local_datetime(&(midnight + chrono::Duration::hours(hour))).earliest())
        .map_or_else(|| midnight.and_utc(), |start| start.with_timezone(&Utc))
}

/// The most rows a list's CSV file holds; narrow the filter for more.
pub(crate) const MAX_CSV_ROWS: usize = 100_000;

/// Every row of a list, for its CSV file: pages of `size` from the first, until one comes
/// back short or there are [`MAX_CSV_ROWS`].
pub(crate) async fn every_page<T, Fut>(size: usize, mut page: impl FnMut(i64) -> Fut) -> ordo_app::AppResult<Vec<T>>
where
    Fut: std::future::Future<Output = ordo_app::AppResult<Vec<T>>>,
{
    let mut all = Vec::new();
    loop {
        let found = page(i64::try_from(all.len()).unwrap_or(i64::MAX)).await?;
        let full = found.len() == size;
        all.extend(found);
        if !full || all.len() >= MAX_CSV_ROWS {
            return Ok(all);
        }
    }
}

/// The query of a list that has no filters: `?format=csv` for it as a file.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

impl ExportQuery {
    /// Whether the list is wanted as a CSV file; a bad query is refused on `layout`.
    pub(crate) fn csv(layout: &Layout, query: Result<axum::extract::Query<ExportQuery>, axum::extract::rejection::QueryRejection>) -> Result<bool, PageError> {
        Ok(layout.query(query)?.format.as_deref() == Some("csv"))
    }
}

/// A list as a file to download, as every list offers (`?format=csv`).
pub(crate) fn csv_file(name: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// Rows as CSV: a header, then each row's cells.
pub(crate) fn csv_rows(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only when out of memory.
    let _ = out.write_record(header);
    for row in rows {
        let _ = out.write_record(&row);
    }
    out.into_inner().unwrap_or_default()
}

tokio::task_local! {
    /// The time zone of the person the page is for, set around each request by
    /// [`crate::session::viewer_zone`].
    pub(crate) static VIEWER_ZONE: chrono_tz::Tz;
}

/// A moment as the dashboard shows it: to the minute, in the reader's time zone (UTC unless
/// they chose one), named.
pub(crate) fn timestamp(at: &DateTime<Utc>) -> String {
    match VIEWER_ZONE.try_with(|zone| *zone) {
        Ok(zone) if zone != chrono_tz::UTC => at.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string(),
        _ => utc(at),
    }
}

/// The same moment in UTC, for the hover text beside a local time.
pub(crate) fn utc(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Rows per page in long lists.
pub(crate) const PAGE_SIZE: i64 = 50;

/// Which slice of a long list a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// From 1.
    pub(crate) number: i64,
    pub(crate) offset: i64,
}

impl Paging {
    /// From `?page=`: absent or empty means the first page.
    pub(crate) fn parse(page: Option<&str>) -> Result<Paging, FieldError> {
        let Some(page) = page.map(str::trim).filter(|page| !page.is_empty()) else {
            return Ok(Paging { number: 1, offset: 0 });
        };
        page.parse::<i64>()
            .ok()
            .filter(|number| *number >= 1)
            .and_then(|number| Some(Paging { number, offset: (number - 1).checked_mul(PAGE_SIZE)? }))
            .ok_or_else(|| FieldError::new("page", "must be a whole number, 1 or more"))
    }
}

/// How far a list goes beyond the rows shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// This many rows in all.
    Total(i64),
    /// Uncounted; whether rows follow this page.
    More(bool),
}

/// Every row of a list paged by cursor, for its CSV file: pages of `size` from the start, each
/// after the last row (`key`) of the one before, until one comes back short or there are
/// [`MAX_CSV_ROWS`].
pub(crate) async fn every_page_after<T, Fut>(
    size: usize,
    key: impl Fn(&T) -> ordo_domain::field::PageCursor,
    mut page: impl FnMut(Option<ordo_domain::field::PageCursor>) -> Fut,
) -> ordo_app::AppResult<Vec<T>>
where
    Fut: std::future::Future<Output = ordo_app::AppResult<Vec<T>>>,
{
    let mut all: Vec<T> = Vec::new();
    loop {
        let found = page(all.last().map(&key)).await?;
        let full = found.len() == size;
        all.extend(found);
        if !full || all.len() >= MAX_CSV_ROWS {
            return Ok(all);
        }
    }
}

/// "Showing 51–100 of 1,234" and the links either side, keeping the other parameters.
pub(crate) struct Pager {
    pub(crate) summary: String,
    pub(crate) previous: Option<String>,
    /// What the link back says: "Previous", or "First page" for a list paged by cursor.
    pub(crate) previous_label: &'static str,
    pub(crate) next: Option<String>,
}

/// Where a list paged by cursor starts: after the row a `?cursor=` names, or at its start.
/// A cursor is the sort time and id of the last row of the page before, so rows written
/// meanwhile neither repeat nor go missing, and a far page costs what the first does.
pub(crate) fn cursor(layout: &Layout, text: Option<&str>) -> Result<Option<ordo_domain::field::PageCursor>, PageError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => ordo_domain::field::PageCursor::parse("cursor", text).map(Some).map_err(|e| layout.fail(e)),
    }
}

/// The rows of one page out of `found` (fetched one longer than a page), and the cursor of the
/// page after, when there is one: the last shown row's `key`.
pub(crate) fn one_page<T>(mut found: Vec<T>, key: impl Fn(&T) -> ordo_domain::field::PageCursor) -> (Vec<T>, Option<String>) {
    let size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    if found.len() <= size {
        return (found, None);
    }
    found.truncate(size);
    let next = found.last().map(|row| key(row).encode());
    (found, next)
}

impl Pager {
    /// For `shown` rows of `what` on page `paging` of the list at `path?params`.
    pub(crate) fn new(path: &str, params: &[(&str, &str)], paging: Paging, shown: usize, extent: Extent, what: &str) -> Pager {
        let link = |number: i64| {
            let number = number.to_string();
            let mut all = params.to_vec();
            all.push(("page", &number));
            with_query(path, &all)
        };
        let shown = i64::try_from(shown).unwrap_or(i64::MAX);
        let first = paging.offset.saturating_add(1);
        let last = paging.offset.saturating_add(shown);
        let summary = match (shown, extent) {
            (0, Extent::Total(0)) => format!("No {what}."),
            (0, Extent::Total(total)) => format!("No {what} on this page; {} in all.", grouped(total)),
            (0, Extent::More(_)) => format!("No {what} on this page."),
            (_, Extent::Total(total)) => format!("Showing {}–{} of {}", grouped(first), grouped(last), grouped(total)),
            (_, Extent::More(_)) => format!("Showing {}–{}", grouped(first), grouped(last)),
        };
        let (more, last_page) = match extent {
            Extent::Total(total) => (last < total, (total + PAGE_SIZE - 1) / PAGE_SIZE),
            Extent::More(more) => (more, i64::MAX),
        };
        // Past the end, "previous" goes to the last page that has rows.
        let previous = (paging.number - 1).min(last_page);
        Pager {
            summary,
            previous: (previous >= 1).then(|| link(previous)),
            previous_label: "Previous",
            next: more.then(|| link(paging.number.saturating_add(1))),
        }
    }

    /// For `shown` rows of `what` of a list paged by cursor at `path?params`: from its start
    /// unless `continued`, `total` rows in all when counted, the page after at `next`.
    pub(crate) fn by_cursor(path: &str, params: &[(&str, &str)], continued: bool, shown: usize, total: Option<i64>, next: Option<&str>, what: &str) -> Pager {
        let shown = i64::try_from(shown).unwrap_or(i64::MAX);
        let summary = match (shown, total, continued) {
            (0, _, false) => format!("No {what}."),
            (0, _, true) => format!("No more {what}."),
            (_, Some(total), false) => format!("Showing the first {} of {}", grouped(shown), grouped(total)),
            (_, Some(total), true) => format!("Showing {} more of {}", grouped(shown), grouped(total)),
            (_, None, false) => format!("Showing the first {}", grouped(shown)),
            (_, None, true) => format!("Showing {} more", grouped(shown)),
        };
        let next = next.map(|cursor| {
            let mut all = params.to_vec();
            all.push(("cursor", cursor));
            with_query(path, &all)
        });
        Pager { summary, previous: continued.then(|| with_query(path, params)), previous_label: "First page", next }
    }
}

/// `1234567` as `1,234,567`, for counts people read.
pub(crate) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_start_at_one() {
        assert_eq!(Paging::parse(None).unwrap(), Paging { number: 1, offset: 0 });
        assert_eq!(Paging::parse(Some("")).unwrap(), Paging { number: 1, offset: 0 });
        assert_eq!(Paging::parse(Some("3")).unwrap(), Paging { number: 3, offset: 100 });
        for bad in ["0", "-1", "two", "1.5", "99999999999999999999", &i64::MAX.to_string()] {
            assert_eq!(Paging::parse(Some(bad)).unwrap_err().field, "page", "{bad}");
        }
    }

    #[test]
    fn the_pager_keeps_the_search_and_stops_at_the_ends() {
        let second = Paging::parse(Some("2")).unwrap();
        let pager = Pager::new("/p", &[("q", "mug")], second, 50, Extent::Total(120), "products");
        assert_eq!(pager.summary, "Showing 51–100 of 120");
        assert_eq!(pager.previous.as_deref(), Some("/p?q=mug&page=1"));
        assert_eq!(pager.next.as_deref(), Some("/p?q=mug&page=3"));
        let last = Pager::new("/p", &[("q", "")], Paging::parse(Some("3")).unwrap(), 20, Extent::Total(120), "products");
        assert_eq!((last.summary.as_str(), last.next), ("Showing 101–120 of 120", None));
        let beyond = Pager::new("/p", &[], Paging::parse(Some("9")).unwrap(), 0, Extent::Total(120), "products");
        assert_eq!((beyond.summary.as_str(), beyond.previous.as_deref()), ("No products on this page; 120 in all.", Some("/p?page=3")));
        let empty = Pager::new("/p", &[], Paging::parse(None).unwrap(), 0, Extent::Total(0), "products");
        assert_eq!((empty.summary.as_str(), empty.previous, empty.next), ("No products.", None, None));
        let uncounted = Pager::new("/p", &[], Paging::parse(Some("2")).unwrap(), 50, Extent::More(true), "customers");
        assert_eq!((uncounted.summary.as_str(), uncounted.next.as_deref()), ("Showing 51–100", Some("/p?page=3")));
    }

    #[test]
    fn a_cursor_pager_goes_on_after_the_last_row_and_back_to_the_start() {
        let at = |n: i64| ordo_domain::field::PageCursor { at: DateTime::from_timestamp(n, 0).unwrap(), id: uuid::Uuid::from_u128(n as u128) };
        let rows: Vec<i64> = (1..=PAGE_SIZE + 1).collect();
        let (page, next) = one_page(rows, |n| at(*n));
        assert_eq!((page.len() as i64, next), (PAGE_SIZE, Some(at(PAGE_SIZE).encode())), "one row more than a page means a page follows");
        let (page, next) = one_page((1..=3).collect::<Vec<i64>>(), |n| at(*n));
        assert_eq!((page.len(), next), (3, None));

        let first = Pager::by_cursor("/p", &[("status", "open")], false, 50, Some(120), Some("c1"), "returns");
        assert_eq!(first.summary, "Showing the first 50 of 120");
        assert_eq!((first.previous, first.next.as_deref()), (None, Some("/p?status=open&cursor=c1")));
        let later = Pager::by_cursor("/p", &[("status", "open")], true, 20, None, None, "returns");
        assert_eq!((later.summary.as_str(), later.previous.as_deref(), later.previous_label), ("Showing 20 more", Some("/p?status=open"), "First page"));
        assert_eq!(Pager::by_cursor("/p", &[], true, 0, None, None, "returns").summary, "No more returns.");
    }

    #[test]
    fn times_are_shown_to_the_minute_in_the_readers_zone() {
        let at = DateTime::parse_from_rfc3339("2030-01-02T03:04:59+02:00").unwrap().with_timezone(&Utc);
        assert_eq!(timestamp(&at), "2030-01-02 01:04 UTC", "UTC unless the reader chose a zone");
        let berlin = VIEWER_ZONE.sync_scope(chrono_tz::Europe::Berlin, || timestamp(&at));
        assert_eq!(berlin, "2030-01-02 02:04 CET");
        let summer = DateTime::parse_from_rfc3339("2030-07-02T01:04:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(VIEWER_ZONE.sync_scope(chrono_tz::America::New_York, || timestamp(&summer)), "2030-07-01 21:04 EDT");
        assert_eq!(utc(&at), "2030-01-02 01:04 UTC");
    }

    #[test]
    fn days_are_read_in_the_readers_zone() {
        let berlin = VIEWER_ZONE.sync_scope(chrono_tz::Europe::Berlin, || days_in_reader_zone("2030-01-02", "2030-01-02").unwrap());
        let at = |text: &str| Some(DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc));
        assert_eq!(berlin, (at("2030-01-01T23:00:00Z"), at("2030-01-02T23:00:00Z")));
        assert_eq!(days_in_reader_zone("", "2030-07-01").unwrap(), (None, at("2030-07-02T00:00:00Z")), "UTC unless chosen");
        assert_eq!(days_in_reader_zone("2030-07-02", "2030-07-01").unwrap_err().field, "to");
        assert_eq!(days_in_reader_zone("July", "").unwrap_err().field, "from");
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(-1234567), "-1,234,567");
    }
}

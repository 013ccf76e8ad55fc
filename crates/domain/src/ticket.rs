//! Helpdesk tickets: what a customer asked, how urgent it is, who is on it and by when it must
//! be solved; and the documents attached to tickets, returns, orders and suppliers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::FieldError;

/// How urgent a ticket is; it sets the time to solve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}
named!(Priority, "a priority", { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" });

impl Priority {
    /// How long service has to solve a ticket of this priority; past it, an exception.
    pub fn sla(self) -> chrono::Duration {
        match self {
            Priority::Urgent => chrono::Duration::hours(4),
            Priority::High => chrono::Duration::hours(8),
            Priority::Normal => chrono::Duration::hours(24),
            Priority::Low => chrono::Duration::hours(72),
        }
    }
}

/// What the customer contacted us about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketReason {
    WhereIsMyOrder,
    ReturnRequest,
    DamagedItem,
    WrongItem,
    Billing,
    ProductQuestion,
    Dispute,
    Other,
}
named!(TicketReason, "a reason", {
    WhereIsMyOrder => "where_is_my_order", ReturnRequest => "return_request", DamagedItem => "damaged_item",
    WrongItem => "wrong_item", Billing => "billing", ProductQuestion => "product_question", Dispute => "dispute", Other => "other",
});

/// Where a ticket stands. Its moves:
///
/// | from | to |
/// |---|---|
/// | open | pending, solved, closed |
/// | pending | open, solved, closed |
/// | solved | open (the customer wrote again), closed |
/// | closed | nothing |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Service owes the next step.
    Open,
    /// Waiting for the customer; the clock still runs.
    Pending,
    /// Answered; reopens when the customer writes again.
    Solved,
    /// Done for good.
    Closed,
}
named!(TicketStatus, "a status", { Open => "open", Pending => "pending", Solved => "solved", Closed => "closed" });

impl TicketStatus {
    pub fn can_become(self, next: TicketStatus) -> bool {
        use TicketStatus::*;
        matches!((self, next), (Open, Pending | Solved | Closed) | (Pending, Open | Solved | Closed) | (Solved, Open | Closed))
    }
}

/// A ticket as people and systems see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ticket {
    pub id: uuid::Uuid,
    pub channel: Option<String>,
    pub reason: String,
    pub priority: String,
    pub status: TicketStatus,
    pub subject: String,
    pub customer_email: String,
    pub order_id: Option<uuid::Uuid>,
    pub return_id: Option<uuid::Uuid>,
    pub assignee: Option<String>,
    /// Solved by then, or it is an exception.
    pub due_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
}

/// What triage suggested for a ticket when it was opened, and the label a person gave it
/// (accepted or changed), which the classifier learns from when retrained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketTriage {
    /// The suggested intent, such as `cancel_order`, and its category, such as `ORDER`.
    pub intent: String,
    pub category: String,
    /// The suggested urgency: low, normal, high or urgent.
    pub urgency: String,
    /// How sure triage was of the intent, 0 to 1000.
    pub confidence_permille: i64,
    /// The words that weighed most for the intent.
    pub words: Vec<String>,
    /// The words that raised the urgency.
    pub urgency_words: Vec<String>,
    /// The intent a person gave it, and its category; none until someone does.
    pub label_intent: Option<String>,
    pub label_category: Option<String>,
    pub labelled_by: Option<String>,
    pub labelled_at: Option<DateTime<Utc>>,
}

/// A note on a ticket: internal ones are for colleagues, never sent to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketComment {
    pub at: DateTime<Utc>,
    pub author: String,
    pub body: String,
    pub internal: bool,
}

/// The largest document Ordo keeps.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The kinds of document Ordo keeps, each recognised by its first bytes, not by its name.
pub const DOCUMENT_TYPES: &[&str] = &["application/pdf", "image/png", "image/jpeg", "image/webp", "text/plain"];

/// Why a document is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentRefusal {
    TooLarge { limit: usize },
    Empty,
    /// Not one of [`DOCUMENT_TYPES`], or the bytes are not what the type says.
    Unsupported(String),
}

/// What the bytes are, by their signature: a declared type the content does not bear out is
/// refused, so a program cannot pass for a photo.
pub fn check_document(declared: &str, bytes: &[u8]) -> Result<&'static str, DocumentRefusal> {
    if bytes.is_empty() {
        return Err(DocumentRefusal::Empty);
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentRefusal::TooLarge { limit: MAX_DOCUMENT_BYTES });
    }
    let declared = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let sniffed = if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if std::str::from_utf8(bytes).is_ok_and(|text| !text.chars().any(|c| c.is_control() && !c.is_whitespace())) {
        "text/plain"
    } else {
        return Err(DocumentRefusal::Unsupported(format!("the content is none of {}", DOCUMENT_TYPES.join(", "))));
    };
    if declared != sniffed {
        return Err(DocumentRefusal::Unsupported(format!("declared {declared:?} but the content is {sniffed}")));
    }
    Ok(sniffed)
}

/// A file name as kept: its last path part, printable, at most 200 characters.
pub fn file_name(field: &str, name: &str) -> Result<String, FieldError> {
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) || name == "." || name == ".." {
        return Err(FieldError::new(field, "must be a file name of 1 to 200 printable characters"));
    }
    Ok(name.to_owned())
}

/// A document attached to something, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub id: uuid::Uuid,
    /// `ticket:ID`, `return:ID`, `order:ID` or `supplier:CODE`.
    pub subject: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// The SHA-256 of the content, hex: the same content is kept once.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_what_its_bytes_say() {
        assert_eq!(check_document("application/pdf", b"%PDF-1.7 ..."), Ok("application/pdf"));
        assert_eq!(check_document("image/png; charset=binary", b"\x89PNG\r\n\x1a\n...."), Ok("image/png"));
        assert_eq!(check_document("text/plain", "Dispute letter, naïve café".as_bytes()), Ok("text/plain"));
        assert!(matches!(check_document("image/png", b"%PDF-1.7"), Err(DocumentRefusal::Unsupported(_))));
        assert!(matches!(check_document("application/x-msdownload", b"MZ\x90\x00\x03"), Err(DocumentRefusal::Unsupported(_))));
        assert_eq!(check_document("text/plain", b""), Err(DocumentRefusal::Empty));
        let big = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(check_document("text/plain", &big), Err(DocumentRefusal::TooLarge { limit: MAX_DOCUMENT_BYTES }));
    }

    #[test]
    fn a_file_name_keeps_only_its_last_part() {
        assert_eq!(file_name("f", "../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("f", "C:\\photos\\box.jpg").unwrap(), "box.jpg");
        assert!(file_name("f", "dir/").is_err());
        assert!(file_name("f", "..").is_err());
    }

    proptest::proptest! {
        /// Whatever bytes and type a caller sends, the check answers without panicking, and
        /// what it accepts is one of the kept types.
        #[test]
        fn no_document_makes_the_check_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64), declared in "\\PC{0,30}") {
            if let Ok(kind) = check_document(&declared, &bytes) {
                proptest::prop_assert!(DOCUMENT_TYPES.contains(&kind));
            }
        }

        #[test]
        fn a_kept_file_name_has_no_path(name in "\\PC{0,60}") {
            if let Ok(kept) = file_name("f", &name) {
                proptest::prop_assert!(!kept.contains('/') && !kept.contains('\\') && !kept.is_empty());
            }
        }
    }

    #[test]
    fn urgent_tickets_are_due_first_and_solved_ones_reopen() {
        assert!(Priority::Urgent.sla() < Priority::High.sla() && Priority::Normal.sla() < Priority::Low.sla());
        assert!(TicketStatus::Solved.can_become(TicketStatus::Open));
        assert!(!TicketStatus::Closed.can_become(TicketStatus::Open));
    }
}

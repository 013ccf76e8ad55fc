//! Labelled tickets as a CSV file holds them: the customer's words (`instruction`), the
//! `intent` and its `category`, as in the Bitext set; other columns are ignored.

use crate::TriageError;

/// One ticket a person labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub text: String,
    pub intent: String,
    pub category: String,
}

/// The most labelled tickets one file may hold.
pub const MAX_ROWS: usize = 1_000_000;

/// Reads labelled tickets from CSV text with a header naming `instruction`, `intent` and
/// `category`. Every row is checked; the first wrong one is named by its line.
pub fn read_labelled(text: &str) -> Result<Vec<Labelled>, TriageError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| TriageError::Unreadable(e.to_string()))?.clone();
    let column = |name: &'static str| header.iter().position(|h| h.trim() == name).ok_or(TriageError::MissingColumn(name));
    let (text_at, intent_at, category_at) = (column("instruction")?, column("intent")?, column("category")?);
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| TriageError::Unreadable(e.to_string()))?;
        let line = row.position().map_or(0, csv::Position::line);
        let cell = |at: usize, field: &'static str, max: usize| -> Result<String, TriageError> {
            let value = row.get(at).unwrap_or_default().trim();
            if value.is_empty() || value.chars().count() > max {
                return Err(TriageError::Row { line, field, message: format!("must be 1 to {max} characters") });
            }
            Ok(value.to_owned())
        };
        out.push(Labelled { text: cell(text_at, "instruction", 10_000)?, intent: cell(intent_at, "intent", 100)?, category: cell(category_at, "category", 100)? });
        if out.len() > MAX_ROWS {
            return Err(TriageError::Row { line, field: "instruction", message: format!("is past the {MAX_ROWS}th row; split the file") });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_their_header_and_a_wrong_one_is_named() {
        let read = read_labelled("tags,instruction,intent,category\nB,\"cancel it, now\",cancel_order,ORDER\n").unwrap();
        assert_eq!(read, [Labelled { text: "cancel it, now".into(), intent: "cancel_order".into(), category: "ORDER".into() }]);
        assert_eq!(read_labelled("text,intent,category\nx,y,z\n"), Err(TriageError::MissingColumn("instruction")));
        let empty = read_labelled("instruction,intent,category\nhello,greet,X\n ,cancel_order,ORDER\n").unwrap_err();
        assert_eq!(empty, TriageError::Row { line: 3, field: "instruction", message: "must be 1 to 10000 characters".into() });
        assert!(read_labelled("instruction,intent,category\n").unwrap().is_empty());
    }
}

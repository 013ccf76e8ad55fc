//! Reading the files the evaluations score: whole text files with a size limit, and the
//! columns of a CSV header, each refusal naming the file or the column.

use std::path::Path;

/// The text of the file at `path`, refused when it is larger than `max_bytes`.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    if size > max_bytes {
        return Err(format!("{}: larger than {} MiB", path.display(), max_bytes / 1024 / 1024));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where each of `names` is in a CSV `header`, whatever the order and spacing.
pub fn columns<const N: usize>(header: &csv::StringRecord, names: [&str; N]) -> Result<[usize; N], String> {
    let mut at = [0; N];
    for (slot, name) in at.iter_mut().zip(names) {
        *slot = header.iter().position(|h| h.trim() == name).ok_or_else(|| format!("the file has no column {name}"))?;
    }
    Ok(at)
}

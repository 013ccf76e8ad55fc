//! Signed checkpoints of the audit chain kept as files outside the database: one JSON file per
//! checkpoint, written whole or not at all, read back to prove the log still holds them.

use std::path::{Path, PathBuf};

use ordo_app::domain::audit::Checkpoint;

/// Writes `checkpoint` as a new file in `dir` (made if missing); its path. The file appears
/// whole: written beside its name, flushed to disk, then renamed.
pub fn write(dir: &Path, checkpoint: &Checkpoint) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let name = format!("checkpoint-{:012}-{}.json", checkpoint.seq, checkpoint.at.format("%Y%m%dT%H%M%S%6fZ"));
    let path = dir.join(name);
    let partial = path.with_extension("json.partial");
    let text = serde_json::to_string_pretty(checkpoint).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)?;
        // The rename itself is durable once the folder is.
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Posts `checkpoint` as JSON to `url` (over HTTPS in earnest: another system that keeps it).
pub async fn send(url: &str, checkpoint: &Checkpoint) -> Result<(), String> {
    let http = ordo_connectors::Http::new()?;
    let body = serde_json::to_value(checkpoint).map_err(|e| e.to_string())?;
    http.post_json(url, &body).await
}

/// Every checkpoint in `dir`, oldest record first. A file that is not a checkpoint is an
/// error naming it: a checkpoint nobody can read proves nothing.
pub fn read(dir: &Path) -> Result<Vec<Checkpoint>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut checkpoints = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|e| format!("{} is not a checkpoint: {e}", path.display()))?;
        checkpoints.push(checkpoint);
    }
    checkpoints.sort_by_key(|c| (c.seq, c.at));
    Ok(checkpoints)
}

//! Replacing a small file atomically: readers (and a restart after a crash) see the old
//! contents or the new, never a torn mix.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file beside it, renamed over `path`. With
/// `durable`, the data reaches the disk before the rename (for files that took long to make).
///
/// # Errors
/// The temporary file cannot be written or renamed.
pub(crate) fn replace_file(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_holds_the_new_bytes_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        replace_file(&path, b"old", false).expect("writes");
        replace_file(&path, b"new", true).expect("replaces");
        assert_eq!(std::fs::read(&path).expect("reads"), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }
}

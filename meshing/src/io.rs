//! File output that never leaves a half-written file behind: everything img23d writes goes
//! to a temporary file in the target's folder, is flushed and synced, then renamed over
//! the target, and the folder is synced so the rename itself survives a crash. A failure
//! removes the temporary file.
//!
//! Temporary names are unique per call (`.<name>.<pid>.<n>.tmp`: the process id and a
//! per-process counter), so two threads or two processes writing the same target never
//! share one; the last rename wins and the target is always one complete file. A process
//! killed mid-write leaves its temporary behind: [`remove_stale_temporaries`] removes those
//! whose process is gone, and they never carry an output's name.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Per-process counter that makes each call's temporary name unique.
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// Suffix of every temporary file [`write_atomic`] creates.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `path` atomically: `write` fills a buffered temporary file beside `path`, which
/// is renamed into place only when `write` succeeds. On any error no file is left at
/// `path` (an existing file there is kept unchanged) and the temporary file is removed.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .ok_or_else(|| {
            Error::io(
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
                path,
            )
        })?
        .to_string_lossy()
        .into_owned();
    let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{file_name}.{}.{n}{TMP_SUFFIX}",
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(&dir)
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(Error::io(e, path))
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Syncs a folder, so a rename into it is on disk (Unix; a no-op elsewhere, where
/// folders cannot be opened as files).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// The process id in a temporary name made by [`write_atomic`]
/// (`.<name>.<pid>.<n>.tmp`), if `file_name` is one.
fn temporary_owner(file_name: &str) -> Option<u32> {
    let stem = file_name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let mut parts = stem.rsplitn(3, '.');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    parts.next().filter(|name| !name.is_empty())?;
    Some(pid)
}

/// Whether process `pid` is running (this one always is; without `/proc`, every process
/// counts as running, so its leftovers are kept).
pub fn process_is_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without /proc, keep it: it is never mistaken for output anyway.
        true
    }
}

/// Removes the temporaries [`write_atomic`] left in `dir` when their process was killed
/// (their process is gone); returns how many. Temporaries of live processes (another run
/// writing into the same folder) are left alone. A folder that cannot be read counts 0.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temporary_owner) else {
            continue;
        };
        if !process_is_alive(pid) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// [`write_atomic`] for a byte buffer that is already complete.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_bytes_atomic(&p, b"one").unwrap();
        write_bytes_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failure_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.bin");
        let err = write_atomic(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("b.bin"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Issue 12: two threads writing the same target shared one temporary name (the
    /// process id), so their bytes mixed or a rename found its file gone.
    #[test]
    fn concurrent_writers_of_one_target_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("same.bin");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|k| vec![k; 256 * 1024]).collect();
        std::thread::scope(|s| {
            for c in &contents {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..10 {
                        write_bytes_atomic(p, c).unwrap();
                    }
                });
            }
        });
        let got = std::fs::read(&p).unwrap();
        assert!(contents.contains(&got), "the target is a mix of writers");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_names_are_unique_and_recognised() {
        assert_eq!(temporary_owner(".chair.glb.4242.7.tmp"), Some(4242));
        assert_eq!(temporary_owner(".a.b.c.12.0.tmp"), Some(12));
        assert_eq!(temporary_owner("chair.glb"), None);
        assert_eq!(temporary_owner(".chair.glb.tmp"), None);
        assert_eq!(temporary_owner("..1.2.tmp"), None);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A process id that is not running: a child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".chair.glb.{dead}.0.tmp"));
        let live = dir
            .path()
            .join(format!(".chair.glb.{}.99.tmp", std::process::id()));
        let output = dir.path().join("chair.glb");
        for f in [&stale, &live, &output] {
            std::fs::write(f, b"x").unwrap();
        }
        if cfg!(target_os = "linux") {
            assert_eq!(remove_stale_temporaries(dir.path()), 1);
            assert!(!stale.exists());
        }
        assert!(live.exists() && output.exists());
    }

    #[test]
    fn unwritable_folder_is_an_error_naming_the_path() {
        let p = Path::new("/nonexistent-folder-img23d/x.glb");
        let err = write_bytes_atomic(p, b"x").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-folder-img23d/x.glb"),
            "{err}"
        );
    }
}

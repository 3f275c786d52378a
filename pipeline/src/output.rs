//! Output files, the same way for every command: the folder is checked, and what killed
//! runs left in it removed, before any work ([`prepare_output_dir`], [`remove_leftovers`]);
//! outputs are named after the input's file stem ([`output_stem`], [`distinct_stems`]);
//! and one input's files appear together or not at all ([`staged`], [`Staging`]): they
//! are written into a staging folder beside their targets and renamed into place when the
//! input succeeded, the report last, so a failure never touches what was there before.
//! The mesh file formats ([`Format`]) live here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::report::{OutputFile, write_report};
use crate::{Error, Result};

/// A mesh file format: the main job writes any of them (`--format`), `img23d mesh` the
/// one its output's extension names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Binary glTF 2.0: normals, UVs, an embedded base-color texture and a PBR material
    /// (vertex colors as COLOR_0 with `--texture-size 0`).
    Glb,
    /// Binary little-endian PLY with normals and 8-bit vertex colors.
    Ply,
    /// Wavefront OBJ with UVs, an MTL and the texture PNG beside it (per-vertex colors
    /// with `--texture-size 0`).
    Obj,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Glb => "glb",
            Self::Ply => "ply",
            Self::Obj => "obj",
        }
    }
}

impl Format {
    /// The format `path`'s extension names (any case), if any.
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        [Self::Glb, Self::Ply, Self::Obj]
            .into_iter()
            .find(|f| f.extension() == ext)
    }
}

/// Creates the output folder if needed, checks that a file can be written in it and
/// removes what killed runs left there ([`remove_leftovers`]).
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let folder_error = |source: std::io::Error| Error::OutputFolder {
        source,
        path: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(folder_error)?;
    if !dir.is_dir() {
        return Err(folder_error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    let probe = dir.join(format!(".img23d-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(folder_error)?;
    let _ = std::fs::remove_file(&probe);
    remove_leftovers(dir);
    Ok(())
}

/// The file stem outputs of `input` are named after (`chair` for `photos/chair.png`).
pub fn output_stem(input: &Path) -> Result<String> {
    input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidArgument {
            name: "IMAGE",
            expected: "a file path".into(),
            got: input.display().to_string(),
        })
}

/// Checks that no two inputs would write the same `<stem>.*` files.
pub fn distinct_stems(inputs: &[PathBuf]) -> Result<()> {
    let mut stems: BTreeMap<String, &Path> = BTreeMap::new();
    for input in inputs {
        let stem = output_stem(input)?;
        if let Some(first) = stems.insert(stem.clone(), input) {
            return Err(Error::OutputCollision {
                stem,
                first: first.to_path_buf(),
                second: input.clone(),
            });
        }
    }
    Ok(())
}

/// Start of a staging folder's name, `.img23d-stage-<pid>-<n>`: hidden, and no output has
/// it (outputs are `<stem>.<suffix>` files).
const STAGE_PREFIX: &str = ".img23d-stage-";

/// Per-process counter that makes each staging folder's name unique.
static NEXT_STAGE: AtomicU64 = AtomicU64::new(0);

/// One input's files while they are made. Each is written under its own name into a
/// staging folder beside its target (`<target's folder>/.img23d-stage-<pid>-<n>/`), and
/// [`Staging::commit`] renames them into place, the report last. Dropped without a commit
/// (the input failed), it removes its staging folders: the target folders are exactly as
/// they were.
#[derive(Debug, Default)]
pub struct Staging {
    /// (target folder, its staging folder), each created on first use.
    folders: Vec<(PathBuf, PathBuf)>,
    /// (staged, target) of every file besides the report, in the order added.
    files: Vec<(PathBuf, PathBuf)>,
    /// (staged, target) of the report.
    report: Option<(PathBuf, PathBuf)>,
}

impl Staging {
    /// Where to write the file that will be `target`: its name in the staging folder
    /// beside it (created now if needed).
    pub fn path(&mut self, target: &Path) -> Result<PathBuf> {
        let name = target.file_name().ok_or_else(|| {
            Error::io(
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
                target,
            )
        })?;
        let dir = folder_of(target);
        if !self.folders.iter().any(|(d, _)| d == dir) {
            let n = NEXT_STAGE.fetch_add(1, Ordering::Relaxed);
            let stage = dir.join(format!("{STAGE_PREFIX}{}-{n}", std::process::id()));
            std::fs::create_dir(&stage).map_err(|source| Error::OutputFolder {
                source,
                path: dir.to_path_buf(),
            })?;
            self.folders.push((dir.to_path_buf(), stage));
        }
        let (_, stage) = self
            .folders
            .iter()
            .find(|(d, _)| d == dir)
            .ok_or_else(|| Error::io(std::io::Error::other("staging folder vanished"), dir))?;
        Ok(stage.join(name))
    }

    /// Records the file written at `staged` (a [`Staging::path`]) as an output: the
    /// report's entry names its target, with the staged file's size.
    pub fn add(&mut self, format: impl Into<String>, staged: &Path) -> OutputFile {
        let target = self.target_of(staged);
        let file = OutputFile {
            format: format.into(),
            path: target.clone(),
            bytes: std::fs::metadata(staged).map(|m| m.len()).unwrap_or(0),
        };
        self.files.push((staged.to_path_buf(), target));
        file
    }

    /// Writes `report` for `target` into staging ([`write_report`]); it moves last.
    pub fn report(&mut self, target: &Path, report: &impl serde::Serialize) -> Result<()> {
        let staged = self.path(target)?;
        write_report(&staged, report)?;
        self.report = Some((staged, target.to_path_buf()));
        crate::fault::check("report", target)
    }

    fn target_of(&self, staged: &Path) -> PathBuf {
        let stage = folder_of(staged);
        let dir = self
            .folders
            .iter()
            .find(|(_, s)| s == stage)
            .map_or(stage, |(d, _)| d.as_path());
        dir.join(staged.file_name().unwrap_or_default())
    }

    /// Moves everything into place: the previous report of this input is removed first,
    /// then each file is renamed over its target, the folders are synced, and the new
    /// report is renamed last. A report on disk therefore always describes the files
    /// beside it. Returns the targets, the report last.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        if let Some((_, target)) = &self.report {
            match std::fs::remove_file(target) {
                Ok(()) => sync_folder_of(target)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(e, target)),
            }
        }
        let mut moved = Vec::new();
        for (staged, target) in std::mem::take(&mut self.files) {
            std::fs::rename(&staged, &target).map_err(|e| Error::io(e, &target))?;
            moved.push(target);
        }
        for (dir, _) in &self.folders {
            img23d_meshing::io::sync_dir(dir).map_err(|e| Error::io(e, dir))?;
        }
        if let Some((staged, target)) = self.report.take() {
            std::fs::rename(&staged, &target).map_err(|e| Error::io(e, &target))?;
            sync_folder_of(&target)?;
            moved.push(target);
        }
        Ok(moved)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        for (_, stage) in &self.folders {
            let _ = std::fs::remove_dir_all(stage);
        }
    }
}

/// The folder `path` is in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn sync_folder_of(path: &Path) -> Result<()> {
    let dir = folder_of(path);
    img23d_meshing::io::sync_dir(dir).map_err(|e| Error::io(e, dir))
}

/// Runs one input's `work` with a fresh [`Staging`] and commits it when `work` succeeds;
/// returns what `work` returned and the files moved into place. When `work` fails nothing
/// in the target folders changed. A full disk becomes [`Error::NoSpace`] naming `dir`.
pub fn staged<T>(
    dir: &Path,
    work: impl FnOnce(&mut Staging) -> Result<T>,
) -> Result<(T, Vec<PathBuf>)> {
    let mut staging = Staging::default();
    let value = work(&mut staging).map_err(|e| e.no_space_in(dir))?;
    let files = staging.commit().map_err(|e| e.no_space_in(dir))?;
    Ok((value, files))
}

/// The process id in a staging folder's name (`.img23d-stage-<pid>-<n>`), if it is one.
fn stage_owner(name: &str) -> Option<u32> {
    let (pid, n) = name.strip_prefix(STAGE_PREFIX)?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes what killed runs left in `dir`: staging folders and
/// `img23d_meshing::io::write_atomic` temporaries whose process is gone (those of a live
/// process, another run writing here, are left alone). Returns how many.
pub fn remove_leftovers(dir: &Path) -> usize {
    let mut removed = img23d_meshing::io::remove_stale_temporaries(dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(stage_owner) else {
            continue;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir
            && !img23d_meshing::io::process_is_alive(pid)
            && std::fs::remove_dir_all(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_collisions() {
        assert_eq!(output_stem(Path::new("x/chair.png")).unwrap(), "chair");
        assert!(output_stem(Path::new("")).is_err());
        let err = distinct_stems(&["a/chair.png".into(), "b/chair.jpg".into()]).unwrap_err();
        assert!(matches!(err, Error::OutputCollision { .. }), "{err}");
        distinct_stems(&["a/chair.png".into(), "a/vase.png".into()]).unwrap();
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::of_path(Path::new("a/t.GLB")), Some(Format::Glb));
        assert_eq!(Format::of_path(Path::new("t.obj")), Some(Format::Obj));
        assert_eq!(Format::of_path(Path::new("t.fbx")), None);
        assert_eq!(Format::of_path(Path::new("t")), None);
    }

    fn staged_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failure_leaves_the_folder_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("chair.glb");
        std::fs::write(&old, b"old").unwrap();
        let result: Result<((), Vec<PathBuf>)> = staged(dir.path(), |staging| {
            let p = staging.path(&old)?;
            std::fs::write(&p, b"new").unwrap();
            staging.add("glb", &p);
            Err(Error::io(std::io::Error::other("late failure"), &old))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&old).unwrap(), b"old");
        assert_eq!(staged_names(dir.path()), ["chair.glb"]);
    }

    #[test]
    fn a_commit_moves_everything_and_the_report_names_the_targets() {
        let dir = tempfile::tempdir().unwrap();
        let (glb, report) = (dir.path().join("a.glb"), dir.path().join("a.report.json"));
        std::fs::write(&glb, b"old").unwrap();
        std::fs::write(&report, b"{}").unwrap();
        let (entry, files) = staged(dir.path(), |staging| {
            let p = staging.path(&glb)?;
            std::fs::write(&p, b"new!").unwrap();
            let entry = staging.add("glb", &p);
            staging.report(&report, &serde_json::json!({"outputs": [&entry.path]}))?;
            Ok(entry)
        })
        .unwrap();
        assert_eq!((entry.path.as_path(), entry.bytes), (glb.as_path(), 4));
        assert_eq!(files, [glb.clone(), report.clone()]);
        assert_eq!(std::fs::read(&glb).unwrap(), b"new!");
        assert!(std::fs::read_to_string(&report).unwrap().contains("a.glb"));
        assert_eq!(staged_names(dir.path()), ["a.glb", "a.report.json"]);
    }

    #[test]
    fn leftovers_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("{STAGE_PREFIX}{dead}-3"));
        let live = dir
            .path()
            .join(format!("{STAGE_PREFIX}{}-0", std::process::id()));
        for d in [&stale, &live] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("chair.glb"), b"x").unwrap();
        }
        std::fs::write(dir.path().join(format!(".a.glb.{dead}.0.tmp")), b"x").unwrap();
        std::fs::write(dir.path().join("chair.glb"), b"x").unwrap();
        assert_eq!(stage_owner(&format!("{STAGE_PREFIX}12-0")), Some(12));
        assert_eq!(stage_owner(&format!("{STAGE_PREFIX}12-0.glb")), None);
        assert_eq!(stage_owner(".img23d-stage-x-0"), None);
        if cfg!(target_os = "linux") {
            assert_eq!(remove_leftovers(dir.path()), 2);
            assert!(!stale.exists());
        }
        assert!(live.exists() && dir.path().join("chair.glb").exists());
    }
}

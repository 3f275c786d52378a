//! The models folder: where model files are installed, the lock file that records their
//! checksums, and the operations behind `img23d models list|fetch|verify|path`.
//!
//! * Folder: `--models-dir`, else `IMG23D_MODELS`, else the user's cache folder
//!   (`$XDG_CACHE_HOME/img23d/models`, `~/.cache/img23d/models`,
//!   `~/Library/Caches/img23d/models`, `%LOCALAPPDATA%\img23d\models`).
//! * Layout: `<folder>/<model>/<file>`; partial downloads end in `.part`.
//! * Lock file `<folder>/img23d-models.lock.json`: for every installed file its size,
//!   SHA-256, where it came from (the URL names a commit, and `revision` records it) and
//!   whether the checksum was pinned by the registry or taken from the hub's metadata at
//!   fetch time. `verify` re-hashes against it.
//! * Revisions: a registry entry on a branch (`main`) is resolved to the commit the
//!   branch points at when the model is first fetched ([`download::hub_commit`]); its
//!   files, their listing and their checksums all come from that commit, and later
//!   fetches of the model (a repair, a missing file) reuse the recorded commit.
//! * Concurrent fetches: each file's download holds an advisory lock beside it
//!   ([`download::download`]), and every update of the lock file is a read-modify-write
//!   under the lock `img23d-models.lock.json.lock`, so two `img23d models fetch` at once
//!   neither mix their bytes nor lose each other's records.
//! * A model is *installed* when all its files are there with the recorded sizes;
//!   `verify` re-checks the hashes. A local file given by path always wins over the
//!   folder, and with `offline` nothing touches the network.
//! * Every file name from the registry, the hub or the lock file is checked to stay
//!   inside the folder ([`Error::UnsafeFileName`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::download::{self, DownloadOptions, Expected, HubFile};
use crate::error::{Error, Result};
use crate::registry::{ModelEntry, ModelFile, Registry, Source, Variant};
use crate::runtime::Precision;

/// The lock file's name inside the models folder.
pub const LOCK_FILE: &str = "img23d-models.lock.json";

/// The environment variable naming the models folder.
pub const MODELS_ENV: &str = "IMG23D_MODELS";

/// The user's default models folder, if a home or cache folder is known.
pub fn default_models_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("img23d").join("models"))
}

/// The models folder: the flag, else `IMG23D_MODELS`, else [`default_models_dir`].
pub fn resolve_models_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    default_models_dir().ok_or_else(|| {
        Error::io(
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no home or cache folder known; pass --models-dir or set IMG23D_MODELS",
            ),
            "",
        )
    })
}

/// `dir/rel` if `rel` is a plain relative path that cannot leave `dir`.
pub fn safe_join(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    let ok = !rel.is_empty()
        && !rel.contains('\\')
        && !rel.contains('\0')
        && rel
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(dir.join(p))
    } else {
        Err(Error::UnsafeFileName {
            name: rel.to_string(),
            models_dir: dir.to_path_buf(),
        })
    }
}

/// Where a recorded checksum came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumOrigin {
    /// Pinned in the registry (from the hub's file metadata, read when the registry was
    /// written).
    Pinned,
    /// The hub's API metadata at fetch time.
    HubMetadata,
}

/// One installed file in the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The URL it was downloaded from.
    pub url: String,
    /// Where the checksum came from.
    pub origin: ChecksumOrigin,
    /// The model's registry name.
    pub model: String,
    /// The weight precision.
    pub precision: String,
    /// The contracts the model's wrapper checks ("name vN, …") at fetch time.
    pub contracts: String,
    /// The hub commit the file was fetched from (absent in lock files written before
    /// revisions were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// The lock file: installed files by path relative to the models folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Format version.
    pub version: u32,
    /// `"<model>/<file>"` → entry.
    pub files: BTreeMap<String, LockEntry>,
}

/// The state of a model in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelState {
    /// All files present with their recorded (or pinned) sizes.
    Installed,
    /// Some files present or a download in progress.
    Partial,
    /// No file present.
    Missing,
    /// Files present but not recorded in the lock file (copied in by hand): `verify`
    /// cannot check them unless the registry pins their checksums.
    Unrecorded,
    /// No public files: the model must be exported.
    ExportOnly,
}

impl LockFile {
    /// Parses a lock file's text for the models folder `dir`, refusing names that would
    /// leave it.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let lock: LockFile = serde_json::from_str(text).map_err(|e| Error::BadManifest {
            what: "lock file",
            reason: e.to_string(),
            path: dir.join(LOCK_FILE),
        })?;
        for k in lock.files.keys() {
            safe_join(dir, k)?;
        }
        Ok(lock)
    }
}

impl std::fmt::Display for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Installed => "installed",
            Self::Partial => "partial",
            Self::Missing => "not installed",
            Self::Unrecorded => "present (unrecorded)",
            Self::ExportOnly => "export only",
        })
    }
}

/// The outcome of verifying one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    /// Size and SHA-256 match.
    Ok,
    /// The file is not there.
    Missing,
    /// No recorded or pinned checksum to compare with.
    NoRecord,
    /// Size or SHA-256 differ.
    Mismatch(String),
}

/// Settings of a fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The hub endpoint. By default, [`download::hub_endpoint`] (`HF_ENDPOINT` or
    /// huggingface.co).
    pub endpoint: String,
    /// Download settings. By default, [`DownloadOptions::default`].
    pub download: DownloadOptions,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            endpoint: download::hub_endpoint(),
            download: DownloadOptions::default(),
        }
    }
}

/// What a fetch did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The installed file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// False when it was already installed and verified.
    pub downloaded: bool,
}

/// The models folder with its registry.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
    registry: Registry,
    offline: bool,
}

impl ModelStore {
    /// A store over `dir` (created on the first fetch) with the built-in registry.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            registry: Registry::builtin(),
            offline: false,
        }
    }

    /// Uses another registry.
    #[must_use]
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Forbids network access (`--offline`).
    #[must_use]
    pub fn with_offline(mut self, yes: bool) -> Self {
        self.offline = yes;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether network access is forbidden.
    pub fn offline(&self) -> bool {
        self.offline
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Reads the lock file (empty when there is none).
    pub fn read_lock(&self) -> Result<LockFile> {
        let p = self.lock_path();
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile::default()),
            Err(e) => return Err(Error::io(e, p)),
        };
        LockFile::parse(&text, &self.dir)
    }

    /// Adds (or replaces) the record of `rel` in the lock file: read, change and write
    /// while holding the lock file's advisory lock, so concurrent fetches keep each
    /// other's records.
    fn record(&self, rel: String, entry: LockEntry) -> Result<()> {
        let mut guard = self.lock_path().into_os_string();
        guard.push(".lock");
        let (_lock, _) = download::FileLock::acquire(Path::new(&guard))?;
        let mut lock = self.read_lock()?;
        lock.version = 1;
        lock.files.insert(rel, entry);
        self.write_lock(&lock)
    }

    fn write_lock(&self, lock: &LockFile) -> Result<()> {
        let p = self.lock_path();
        let mut text = serde_json::to_string_pretty(lock).map_err(|e| Error::BadManifest {
            what: "lock file",
            reason: e.to_string(),
            path: p.clone(),
        })?;
        text.push('\n');
        img23d_meshing::io::write_bytes_atomic(&p, text.as_bytes()).map_err(|e| match e {
            img23d_meshing::Error::Io { source, path } => Error::io(source, path),
            other => Error::io(std::io::Error::other(other.to_string()), &p),
        })
    }

    fn rel(entry: &ModelEntry, f: &ModelFile) -> String {
        format!("{}/{}", entry.name(), f.local)
    }

    /// The variant of `entry` for `precision`, or the export-recipe error.
    pub fn variant(&self, entry: &ModelEntry, precision: Precision) -> Result<&'static Variant> {
        entry.variant(precision).ok_or_else(|| Error::ExportOnly {
            model: entry.name().to_string(),
            recipe: entry.recipe().unwrap_or("(none documented)").to_string(),
        })
    }

    /// Where the model's main (ONNX graph) file lives or would live.
    pub fn model_path(&self, name: &str, precision: Precision) -> Result<PathBuf> {
        let entry = self.registry.get(name)?;
        let v = self.variant(entry, precision)?;
        safe_join(&self.dir, &Self::rel(entry, &v.files[0]))
    }

    /// The state of a model's files (sizes only; [`Self::verify`] hashes them).
    pub fn state(&self, name: &str, precision: Precision) -> Result<ModelState> {
        let entry = self.registry.get(name)?;
        let Some(v) = entry.variant(precision) else {
            return Ok(ModelState::ExportOnly);
        };
        let lock = self.read_lock()?;
        let (mut present, mut complete, mut recorded, mut part) = (0, 0, 0, false);
        for f in v.files {
            let rel = Self::rel(entry, f);
            let p = safe_join(&self.dir, &rel)?;
            part |= download::part_path(&p).exists();
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            present += 1;
            let want = lock.files.get(&rel).map(|l| l.size).or(f.size);
            if lock.files.contains_key(&rel) || f.sha256.is_some() {
                recorded += 1;
            }
            if want.is_none_or(|w| w == m.len()) {
                complete += 1;
            }
        }
        let n = v.files.len();
        Ok(if present == 0 && !part {
            ModelState::Missing
        } else if complete == n && recorded == n {
            ModelState::Installed
        } else if complete == n {
            ModelState::Unrecorded
        } else {
            ModelState::Partial
        })
    }

    /// Installed size of a model's files (recorded or on disk), in bytes.
    pub fn size(&self, name: &str, precision: Precision) -> Result<Option<u64>> {
        let entry = self.registry.get(name)?;
        let Some(v) = entry.variant(precision) else {
            return Ok(None);
        };
        let lock = self.read_lock()?;
        let mut total = 0u64;
        for f in v.files {
            let rel = Self::rel(entry, f);
            let size = lock.files.get(&rel).map(|l| l.size).or(f.size).or_else(|| {
                safe_join(&self.dir, &rel)
                    .ok()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len())
            });
            match size {
                Some(s) => total += s,
                None => return Ok(None),
            }
        }
        Ok(Some(total))
    }

    /// Re-hashes a model's files against the lock file (or the registry's pins).
    pub fn verify(&self, name: &str, precision: Precision) -> Result<Vec<(PathBuf, FileCheck)>> {
        let entry = self.registry.get(name)?;
        let v = self.variant(entry, precision)?;
        let lock = self.read_lock()?;
        let mut out = Vec::new();
        for f in v.files {
            let rel = Self::rel(entry, f);
            let p = safe_join(&self.dir, &rel)?;
            if !p.is_file() {
                out.push((p, FileCheck::Missing));
                continue;
            }
            let rec = lock.files.get(&rel);
            let want_sha = f
                .sha256
                .map(str::to_string)
                .or_else(|| rec.map(|r| r.sha256.clone()));
            let want_size = f.size.or(rec.map(|r| r.size));
            let Some(want_sha) = want_sha else {
                out.push((p, FileCheck::NoRecord));
                continue;
            };
            let (sha, size) = download::sha256_file(&p)?;
            let check = if want_size.is_some_and(|w| w != size) {
                FileCheck::Mismatch(format!(
                    "expected {} bytes, found {size}",
                    want_size.unwrap_or(0)
                ))
            } else if !sha.eq_ignore_ascii_case(&want_sha) {
                FileCheck::Mismatch(format!("expected sha256 {want_sha}, found {sha}"))
            } else {
                FileCheck::Ok
            };
            out.push((p, check));
        }
        Ok(out)
    }

    /// The file to load for a model: `local` when given (a local file always wins), else
    /// the installed main file. Never touches the network.
    pub fn locate(
        &self,
        name: &str,
        precision: Precision,
        local: Option<&Path>,
    ) -> Result<PathBuf> {
        let entry = self.registry.get(name)?;
        if let Some(p) = local {
            return if p.is_file() {
                Ok(p.to_path_buf())
            } else {
                Err(Error::ModelMissing {
                    model: name.to_string(),
                    hint: "the file given by path does not exist".to_string(),
                    path: p.to_path_buf(),
                })
            };
        }
        let v = self.variant(entry, precision)?;
        let main = safe_join(&self.dir, &Self::rel(entry, &v.files[0]))?;
        match self.state(name, precision)? {
            ModelState::Installed | ModelState::Unrecorded => Ok(main),
            _ if self.offline => Err(Error::Offline {
                model: name.to_string(),
                path: main,
            }),
            _ => Err(Error::ModelMissing {
                model: name.to_string(),
                hint: format!("run `img23d models fetch {name}`, or give the file by path"),
                path: main,
            }),
        }
    }

    /// Downloads a model's files (those not already installed and verified), checking
    /// size and SHA-256 before moving each into place, and records them in the lock file.
    pub fn fetch(
        &self,
        name: &str,
        precision: Precision,
        opts: &FetchOptions,
    ) -> Result<Vec<Fetched>> {
        let entry = self.registry.get(name)?;
        let v = self.variant(entry, precision)?;
        let Source::HuggingFace { repo, revision } = entry.source else {
            return Err(Error::ExportOnly {
                model: name.to_string(),
                recipe: entry.recipe().unwrap_or_default().to_string(),
            });
        };
        let lock = self.read_lock()?;
        // Files already installed and matching their record need no network at all.
        let mut todo = Vec::new();
        let mut out = Vec::new();
        for f in v.files {
            let rel = Self::rel(entry, f);
            let dest = safe_join(&self.dir, &rel)?;
            let want = f
                .sha256
                .map(str::to_string)
                .or_else(|| lock.files.get(&rel).map(|r| r.sha256.clone()));
            if dest.is_file()
                && let Some(want) = want
            {
                let (sha, size) = download::sha256_file(&dest)?;
                if sha.eq_ignore_ascii_case(&want) {
                    out.push(Fetched {
                        path: dest,
                        size,
                        downloaded: false,
                    });
                    continue;
                }
            }
            todo.push((f, rel, dest));
        }
        if todo.is_empty() {
            return Ok(out);
        }
        if self.offline {
            return Err(Error::Offline {
                model: name.to_string(),
                path: todo[0].2.clone(),
            });
        }
        let revision = self.commit(repo, revision, v, entry, &lock, opts)?;
        let revision = revision.as_str();
        // The hub's metadata for every folder the files live in, at that commit.
        let mut listing: BTreeMap<String, HubFile> = BTreeMap::new();
        let mut dirs: Vec<&str> = todo
            .iter()
            .map(|(f, _, _)| f.remote.rsplit_once('/').map_or("", |(d, _)| d))
            .collect();
        dirs.sort_unstable();
        dirs.dedup();
        for d in dirs {
            for hf in download::hub_list(&opts.endpoint, repo, revision, d, &opts.download)? {
                listing.insert(hf.path.clone(), hf);
            }
        }
        let model_dir = safe_join(&self.dir, entry.name())?;
        std::fs::create_dir_all(&model_dir).map_err(|e| Error::io(e, &model_dir))?;
        for (f, rel, dest) in todo {
            let url = download::hub_file_url(&opts.endpoint, repo, revision, f.remote);
            let hub = listing.get(f.remote).ok_or_else(|| Error::BadManifest {
                what: "hub metadata",
                reason: format!("{repo}@{revision} has no file '{}'", f.remote),
                path: PathBuf::from(&url),
            })?;
            let (sha256, origin) = match (f.sha256, &hub.sha256) {
                (Some(pin), _) => (pin.to_string(), ChecksumOrigin::Pinned),
                (None, Some(h)) => (h.clone(), ChecksumOrigin::HubMetadata),
                (None, None) => {
                    return Err(Error::BadManifest {
                        what: "hub metadata",
                        reason: format!(
                            "no SHA-256 for '{}' (not an LFS file); refusing an unverifiable download",
                            f.remote
                        ),
                        path: PathBuf::from(&url),
                    });
                }
            };
            let size = f.size.unwrap_or(hub.size);
            let expected = Expected {
                sha256: sha256.clone(),
                size: Some(size),
            };
            let downloaded = download::download(&url, &dest, &expected, &opts.download)?;
            self.record(
                rel,
                LockEntry {
                    sha256,
                    size,
                    url,
                    origin,
                    model: name.to_string(),
                    precision: v.precision.to_string(),
                    contracts: entry.contract_versions(),
                    revision: Some(revision.to_string()),
                },
            )?;
            out.push(Fetched {
                path: dest,
                size,
                downloaded,
            });
        }
        Ok(out)
    }

    /// The commit to fetch a model's files from: the registry's revision when it is one;
    /// else the commit recorded for the model's files in the lock file; else the commit
    /// the branch points at now, asked of the hub.
    fn commit(
        &self,
        repo: &str,
        revision: &str,
        v: &Variant,
        entry: &ModelEntry,
        lock: &LockFile,
        opts: &FetchOptions,
    ) -> Result<String> {
        if download::is_commit(revision) {
            return Ok(revision.to_ascii_lowercase());
        }
        let recorded = v.files.iter().find_map(|f| {
            lock.files
                .get(&Self::rel(entry, f))
                .and_then(|r| r.revision.clone())
                .filter(|c| download::is_commit(c))
        });
        match recorded {
            Some(c) => Ok(c),
            None => download::hub_commit(&opts.endpoint, repo, revision, &opts.download),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape() {
        let d = Path::new("/m");
        assert_eq!(
            safe_join(d, "depth-pro/model.onnx").unwrap(),
            Path::new("/m/depth-pro/model.onnx")
        );
        for bad in [
            "../x.onnx",
            "/etc/passwd",
            "a/../../b",
            "",
            "a\\..\\b",
            "./a",
            "a/./b",
        ] {
            let e = safe_join(d, bad).unwrap_err();
            assert!(matches!(e, Error::UnsafeFileName { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn lock_file_with_escaping_names_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOCK_FILE),
            r#"{"version":1,"files":{"../../evil.onnx":{"sha256":"00","size":1,"url":"x","origin":"pinned","model":"m","precision":"fp32","contracts":""}}}"#,
        )
        .unwrap();
        let e = ModelStore::new(dir.path()).read_lock().unwrap_err();
        assert!(
            e.to_string()
                .contains("refusing file name '../../evil.onnx'"),
            "{e}"
        );
        std::fs::write(dir.path().join(LOCK_FILE), "{not json").unwrap();
        let e = ModelStore::new(dir.path()).read_lock().unwrap_err();
        assert!(e.to_string().starts_with("invalid lock file"), "{e}");
    }

    #[test]
    fn missing_models_say_how_to_get_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = ModelStore::new(dir.path());
        assert_eq!(
            s.state("depth-pro", Precision::Fp16).unwrap(),
            ModelState::Missing
        );
        assert_eq!(
            s.state("zero123pp", Precision::Fp32).unwrap(),
            ModelState::ExportOnly
        );
        let e = s.locate("depth-pro", Precision::Fp16, None).unwrap_err();
        assert!(
            e.to_string().contains("img23d models fetch depth-pro"),
            "{e}"
        );
        let e = s
            .clone()
            .with_offline(true)
            .locate("depth-pro", Precision::Fp16, None)
            .unwrap_err();
        assert!(matches!(e, Error::Offline { .. }), "{e}");
        let e = s
            .fetch("zero123pp", Precision::Fp32, &FetchOptions::default())
            .unwrap_err();
        assert!(e.to_string().contains("no public ONNX export"), "{e}");
        // A local file wins, even offline.
        let local = dir.path().join("mine.onnx");
        std::fs::write(&local, b"x").unwrap();
        assert_eq!(
            s.clone()
                .with_offline(true)
                .locate("depth-pro", Precision::Fp16, Some(&local))
                .unwrap(),
            local
        );
    }

    #[test]
    fn default_dir_is_under_a_cache_folder() {
        if let Some(d) = default_models_dir() {
            assert!(d.ends_with("img23d/models"), "{d:?}");
        }
        assert_eq!(
            resolve_models_dir(Some(Path::new("/x"))).unwrap(),
            Path::new("/x")
        );
    }
}

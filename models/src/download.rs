//! HTTPS downloads of model files: resumable, checked, never half-installed.
//!
//! A file is streamed into `NAME.part` beside its final place. An existing `.part` is
//! resumed with an HTTP `Range` request (and restarted from zero when the server ignores
//! the range). While bytes arrive they are hashed; when the transfer ends, the size and
//! SHA-256 are compared with the expected ones, and only then is the file renamed into
//! place. A mismatch deletes the `.part` and fails with [`Error::ChecksumMismatch`] /
//! [`Error::SizeMismatch`]; a transfer cut short keeps it for the next attempt and fails
//! with [`Error::Truncated`]. A progress bar (indicatif) is drawn on stderr when it is a
//! terminal and hidden otherwise.
//!
//! A resumed transfer is appended only when the server's `Content-Range` starts where the
//! `.part` ends and covers the expected total (`bytes START-END/TOTAL`, RFC 9110 §14.4);
//! otherwise the `.part` is dropped and the file fetched from zero.
//!
//! Two processes (or threads) fetching the same file take turns: an advisory lock on
//! `NAME.lock` beside the file (std's `File::lock`, `flock` on Unix) is held for the
//! whole download, and whoever waited finds the file installed and checks it instead of
//! downloading it again. [`FileLock`] is the same lock for the models folder's lock file.
//!
//! The same module reads the Hugging Face hub's metadata: the tree API lists each LFS
//! file's size and SHA-256, which is where checksums come from when the registry cannot
//! pin one ahead, and the model API names the commit a branch points at
//! (`/api/models/{repo}/revision/{revision}`, field `sha`, as `huggingface_hub`'s
//! `model_info` reads it), so files are fetched from a commit, never a moving branch.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What a download must turn out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes, when known ahead.
    pub size: Option<u64>,
}

/// Settings of a download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Time allowed to connect. By default, 30 s.
    pub connect_timeout: Duration,
    /// Longest wait for any single read (a stalled server fails after this). By default,
    /// 60 s.
    pub read_timeout: Duration,
    /// Draw a progress bar (only when stderr is a terminal). By default, true.
    pub progress: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            progress: true,
        }
    }
}

fn agent(opts: &DownloadOptions) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_recv_response(Some(opts.read_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .user_agent(concat!("img23d/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn net_err(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Network {
        reason: e.to_string(),
        url: url.to_string(),
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 and size of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path).map_err(|e| Error::io(e, path))?;
    let mut h = Sha256::new();
    let n = copy_hashing(&mut f, &mut h, None, path)?;
    Ok((hex(&h.finalize()), n))
}

fn copy_hashing(
    r: &mut impl Read,
    h: &mut Sha256,
    mut w: Option<&mut File>,
    path: &Path,
) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(e, path)),
        };
        h.update(&buf[..k]);
        if let Some(w) = w.as_deref_mut() {
            w.write_all(&buf[..k]).map_err(|e| write_err(e, path))?;
        }
        n += k as u64;
    }
}

fn write_err(e: std::io::Error, path: &Path) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        Error::NoSpace {
            path: path.parent().unwrap_or(path).to_path_buf(),
        }
    } else {
        Error::io(e, path)
    }
}

/// The `.part` file a download of `dest` streams into.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

fn progress_bar(
    opts: &DownloadOptions,
    total: Option<u64>,
    start: u64,
    label: &str,
) -> ProgressBar {
    use std::io::IsTerminal;
    if !opts.progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb.set_message(label.to_string());
    pb.set_position(start);
    pb
}

/// An exclusive advisory lock on a file (created if missing, never deleted, so every
/// process locks the same inode), released when dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the lock on `path`, waiting while another process or thread holds it (a
    /// message says so). Returns the lock and whether it had to wait.
    pub fn acquire(path: &Path) -> Result<(Self, bool)> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| write_err(e, path))?;
        let waited = match file.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!("waiting for another img23d that holds {}", path.display());
                file.lock().map_err(|e| Error::io(e, path))?;
                true
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(e, path)),
        };
        Ok((Self { _file: file }, waited))
    }
}

/// The advisory lock file guarding downloads of `dest`.
pub fn lock_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dest.with_file_name(name)
}

/// Whether `dest` already is the expected file (size first, then SHA-256).
fn already_installed(dest: &Path, expected: &Expected) -> Result<bool> {
    let Ok(m) = std::fs::metadata(dest) else {
        return Ok(false);
    };
    if !m.is_file() || expected.size.is_some_and(|s| s != m.len()) {
        return Ok(false);
    }
    Ok(sha256_file(dest)?.0.eq_ignore_ascii_case(&expected.sha256))
}

/// Checks a `206`'s `Content-Range` (`bytes START-END/TOTAL`) against the range asked
/// for: it must start at `start`, run to the end, and (when known) have `size` bytes in
/// all. The reason when it does not.
pub fn check_content_range(
    value: Option<&str>,
    start: u64,
    size: Option<u64>,
) -> std::result::Result<(), String> {
    let value = value.ok_or("no Content-Range header")?;
    let bad = || format!("Content-Range '{value}' is not 'bytes START-END/TOTAL'");
    let spec = value.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = spec.split_once('/').ok_or_else(bad)?;
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if a != start {
        return Err(format!(
            "Content-Range '{value}' starts at {a}, the partial file ends at {start}"
        ));
    }
    if b < a {
        return Err(bad());
    }
    match total.trim() {
        "*" if size.is_none() => Ok(()),
        "*" => Err(format!(
            "Content-Range '{value}' has no total, {} bytes expected",
            size.unwrap_or(0)
        )),
        t => {
            let t: u64 = t.parse().map_err(|_| bad())?;
            if size.is_some_and(|s| s != t) {
                return Err(format!(
                    "Content-Range '{value}' has {t} bytes in all, {} expected",
                    size.unwrap_or(0)
                ));
            }
            if b.checked_add(1) != Some(t) {
                return Err(format!(
                    "Content-Range '{value}' stops before the end of the file"
                ));
            }
            Ok(())
        }
    }
}

/// Downloads `url` to `dest`, resuming `dest.part`, and checks it against `expected`
/// before renaming it into place. `dest`'s folder must exist. Holds `dest`'s
/// [`lock_path`] throughout; returns false when `dest` already was the expected file
/// (another process installed it while this one waited), true when it was downloaded.
pub fn download(
    url: &str,
    dest: &Path,
    expected: &Expected,
    opts: &DownloadOptions,
) -> Result<bool> {
    let _span = tracing::info_span!("download", url).entered();
    let (_lock, _) = FileLock::acquire(&lock_path(dest))?;
    if already_installed(dest, expected)? {
        return Ok(false);
    }
    let part = part_path(dest);
    let mut have = match std::fs::metadata(&part) {
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    if expected.size.is_some_and(|s| have > s) {
        std::fs::remove_file(&part).map_err(|e| Error::io(e, &part))?;
        have = 0;
    }
    if expected.size.is_some_and(|s| have == s && s > 0) {
        // Already complete: just check it.
        finish(&part, dest, expected, url)?;
        return Ok(true);
    }
    let agent = agent(opts);
    // At most two requests: a resume, then (when the server's answer does not fit the
    // partial file) one from zero.
    let (resp, start) = loop {
        let mut req = agent.get(url);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let resp = req.call().map_err(|e| net_err(url, e))?;
        match resp.status().as_u16() {
            200 => break (resp, 0),
            206 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok());
                match check_content_range(range, have, expected.size) {
                    Ok(()) => break (resp, have),
                    Err(reason) if have == 0 => return Err(net_err(url, reason)),
                    Err(reason) => {
                        tracing::warn!("{reason}: downloading {url} from the start");
                    }
                }
            }
            // The range starts at or past the end: the server's file is shorter than our
            // partial one.
            416 if have > 0 => {}
            s => {
                return Err(Error::HttpStatus {
                    status: s,
                    url: url.to_string(),
                });
            }
        }
        std::fs::remove_file(&part).map_err(|e| Error::io(e, &part))?;
        have = 0;
    };
    let mut file = if start == 0 {
        File::create(&part).map_err(|e| write_err(e, &part))?
    } else {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&part)
            .map_err(|e| Error::io(e, &part))?;
        f.seek(SeekFrom::End(0)).map_err(|e| Error::io(e, &part))?;
        f
    };
    let content_len = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let total = expected.size.or(content_len.map(|n| n + start));
    let label = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pb = progress_bar(opts, total, start, &label);
    let mut reader = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = start;
    let result: Result<()> = loop {
        let k = match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && total.is_some() => {
                // The server closed the connection early: keep the .part for a resume.
                break Ok(());
            }
            Err(e) => break Err(net_err(url, e)),
        };
        if let Err(e) = file.write_all(&buf[..k]) {
            break Err(write_err(e, &part));
        }
        got += k as u64;
        pb.set_position(got);
    };
    pb.finish_and_clear();
    if let Err(e) = file.sync_all() {
        return Err(write_err(e, &part));
    }
    drop(file);
    result?;
    if let Some(t) = total
        && got < t
    {
        return Err(Error::Truncated {
            expected: t,
            got,
            url: url.to_string(),
        });
    }
    finish(&part, dest, expected, url)?;
    Ok(true)
}

/// Checks the finished `.part` and renames it into place (or deletes it on mismatch).
fn finish(part: &Path, dest: &Path, expected: &Expected, url: &str) -> Result<()> {
    let (sha, size) = sha256_file(part)?;
    if let Some(s) = expected.size
        && size != s
    {
        if size < s {
            return Err(Error::Truncated {
                expected: s,
                got: size,
                url: url.to_string(),
            });
        }
        let _ = std::fs::remove_file(part);
        return Err(Error::SizeMismatch {
            expected: s,
            found: size,
            path: dest.to_path_buf(),
        });
    }
    if !sha.eq_ignore_ascii_case(&expected.sha256) {
        let _ = std::fs::remove_file(part);
        return Err(Error::ChecksumMismatch {
            expected: expected.sha256.to_ascii_lowercase(),
            found: sha,
            path: dest.to_path_buf(),
        });
    }
    std::fs::rename(part, dest).map_err(|e| Error::io(e, dest))
}

/// One file of a Hugging Face repository, as the hub's tree API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// Path inside the repository.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content (present for LFS/Xet files, which model weights are).
    pub sha256: Option<String>,
}

/// The hub to talk to: `HF_ENDPOINT` when set (a mirror, or a test server), else
/// `https://huggingface.co`.
pub fn hub_endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The download URL of a file in a hub repository.
pub fn hub_file_url(endpoint: &str, repo: &str, revision: &str, path: &str) -> String {
    format!("{endpoint}/{repo}/resolve/{revision}/{path}")
}

/// Lists the files of `dir` (empty = the root) in a hub model repository at `revision`,
/// with their sizes and SHA-256 (the hub's own metadata).
pub fn hub_list(
    endpoint: &str,
    repo: &str,
    revision: &str,
    dir: &str,
    opts: &DownloadOptions,
) -> Result<Vec<HubFile>> {
    let url = if dir.is_empty() {
        format!("{endpoint}/api/models/{repo}/tree/{revision}")
    } else {
        format!("{endpoint}/api/models/{repo}/tree/{revision}/{dir}")
    };
    hub_api(&url, opts, parse_hub_tree)
}

/// GETs a hub API `url` (at most 16 MiB of JSON) and parses the answer with `parse`.
fn hub_api<T>(
    url: &str,
    opts: &DownloadOptions,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    let resp = agent(opts).get(url).call().map_err(|e| net_err(url, e))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(Error::HttpStatus {
            status,
            url: url.to_string(),
        });
    }
    let text = resp
        .into_body()
        .with_config()
        .limit(16 << 20)
        .read_to_string()
        .map_err(|e| net_err(url, e))?;
    parse(&text).map_err(|reason| Error::BadManifest {
        what: "hub metadata",
        reason,
        path: PathBuf::from(url),
    })
}

/// Whether `revision` is a full commit hash (40 hex digits), not a branch or tag.
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit `revision` (a branch, tag or commit) of a hub model repository points at
/// now, from the model API (`/api/models/{repo}/revision/{revision}`, its `sha`).
pub fn hub_commit(
    endpoint: &str,
    repo: &str,
    revision: &str,
    opts: &DownloadOptions,
) -> Result<String> {
    let url = format!("{endpoint}/api/models/{repo}/revision/{revision}");
    hub_api(&url, opts, parse_hub_revision)
}

/// The commit hash (`sha`, 40 hex digits, lowercased) in the hub model API's JSON.
pub fn parse_hub_revision(text: &str) -> std::result::Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let sha = v
        .get("sha")
        .and_then(|s| s.as_str())
        .ok_or("expected a JSON object with a commit hash in 'sha'")?;
    if !is_commit(sha) {
        return Err(format!("'sha' is '{sha}', not a 40-digit commit hash"));
    }
    Ok(sha.to_ascii_lowercase())
}

/// Parses the hub tree API's JSON (a list of `{type, path, size, lfs: {oid, size}}`).
pub fn parse_hub_tree(text: &str) -> std::result::Result<Vec<HubFile>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = v.as_array().ok_or("expected a JSON list")?;
    let mut out = Vec::new();
    for it in items {
        if it.get("type").and_then(|t| t.as_str()) != Some("file") {
            continue;
        }
        let path = it
            .get("path")
            .and_then(|p| p.as_str())
            .ok_or("file entry without a path")?
            .to_string();
        let lfs = it.get("lfs");
        let size = lfs
            .and_then(|l| l.get("size"))
            .or_else(|| it.get("size"))
            .and_then(|s| s.as_u64())
            .ok_or_else(|| format!("no size for {path}"))?;
        let sha256 = lfs
            .and_then(|l| l.get("oid").or_else(|| l.get("sha256")))
            .and_then(|o| o.as_str())
            .map(|o| o.trim_start_matches("sha256:").to_ascii_lowercase())
            .filter(|o| o.len() == 64 && o.bytes().all(|b| b.is_ascii_hexdigit()));
        out.push(HubFile { path, size, sha256 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        // sha256("abc"), FIPS 180-2 example.
        assert_eq!(
            sha256_file(&p).unwrap(),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(),
                3
            )
        );
    }

    #[test]
    fn parses_hub_tree() {
        let t = r#"[
          {"type":"directory","oid":"x","size":0,"path":"onnx"},
          {"type":"file","oid":"5f1","size":1391,"path":"onnx/model.onnx",
           "lfs":{"oid":"AB12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34","size":1391,"pointerSize":132}},
          {"type":"file","oid":"9e0","size":274,"path":"config.json"}
        ]"#;
        let f = parse_hub_tree(t).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].path, "onnx/model.onnx");
        assert_eq!(
            f[0].sha256.as_deref(),
            Some("ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34")
        );
        assert_eq!((f[1].size, f[1].sha256.clone()), (274, None));
        assert!(parse_hub_tree("{}").is_err());
        assert!(parse_hub_tree("[{\"type\":\"file\"}]").is_err());
    }

    #[test]
    fn parses_hub_revisions() {
        let c = "0FB46FADDE862E9B7E4E735EED1E99EA69780920";
        assert_eq!(
            parse_hub_revision(&format!(r#"{{"id":"o/r","sha":"{c}"}}"#)).unwrap(),
            c.to_ascii_lowercase()
        );
        assert!(is_commit(c) && !is_commit("main") && !is_commit(&c[1..]));
        for bad in ["[]", "{}", r#"{"sha":"main"}"#, r#"{"sha":7}"#, "not json"] {
            assert!(parse_hub_revision(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn part_file_sits_beside_the_target() {
        assert_eq!(
            part_path(Path::new("/m/x/model.onnx")),
            Path::new("/m/x/model.onnx.part")
        );
    }
}

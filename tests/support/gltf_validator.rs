//! Test helper: runs the Khronos glTF-Validator (npm `gltf-validator`, pinned in
//! `tests/gltf-validator/package.json`) on a file through `tests/gltf-validator/validate.mjs`
//! and judges its report.
//!
//! Shared by `img23d-meshing`'s unit tests and the root `tests/` binary, each including it
//! with `#[path = ".../tests/support/gltf_validator.rs"] mod gltf_validator;`. It uses only
//! `std` and `serde_json`.
//!
//! * When `node` is not on `PATH` the test fails, unless `IMG23D_SKIP_MISSING_TOOLS=1`
//!   is set, where the check is skipped with a `SKIPPED` line on the terminal
//!   (`missing_tool.rs`).
//! * When the npm package is not installed yet, it runs `npm ci` in
//!   `tests/gltf-validator/` once per process (the test command installs it ahead too).
#![allow(dead_code, reason = "each including crate uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

#[path = "missing_tool.rs"]
pub mod missing_tool;

/// The validator's report for one file.
#[derive(Debug, Clone)]
pub struct ValidatorReport {
    /// The file validated.
    pub path: PathBuf,
    /// The whole JSON report, as the validator wrote it.
    pub json: serde_json::Value,
}

impl ValidatorReport {
    fn count(&self, key: &str) -> u64 {
        self.json["issues"][key].as_u64().unwrap_or(u64::MAX)
    }
    /// Number of errors.
    pub fn errors(&self) -> u64 {
        self.count("numErrors")
    }
    /// Number of warnings.
    pub fn warnings(&self) -> u64 {
        self.count("numWarnings")
    }
    /// Number of infos.
    pub fn infos(&self) -> u64 {
        self.count("numInfos")
    }
    /// Number of hints.
    pub fn hints(&self) -> u64 {
        self.count("numHints")
    }
    /// The `info` section (`hasTextures`, `hasMaterials`, `resources`, ...).
    pub fn info(&self) -> &serde_json::Value {
        &self.json["info"]
    }
    /// One line per message: `severity code pointer: message`.
    pub fn messages(&self) -> Vec<String> {
        let severity = ["error", "warning", "info", "hint"];
        self.json["issues"]["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        let s = m["severity"].as_u64().unwrap_or(0) as usize;
                        format!(
                            "{} {} {}: {}",
                            severity.get(s).unwrap_or(&"?"),
                            m["code"].as_str().unwrap_or("?"),
                            m["pointer"].as_str().unwrap_or(""),
                            m["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Folder of the npm package (`tests/gltf-validator` at the workspace root).
pub fn validator_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("tests").join("gltf-validator");
        if candidate.join("package.json").is_file() {
            return candidate;
        }
        if !dir.pop() {
            panic!(
                "tests/gltf-validator/package.json not found above {}",
                env!("CARGO_MANIFEST_DIR")
            );
        }
    }
}

/// Whether the validator can run here (`node` is on PATH); where it cannot, [`validate`]
/// fails, or skips with `IMG23D_SKIP_MISSING_TOOLS=1`.
pub fn available() -> bool {
    node_available()
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

static INSTALL: Mutex<bool> = Mutex::new(false);

fn ensure_installed(dir: &Path) {
    let mut done = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *done
        || dir
            .join("node_modules/gltf-validator/package.json")
            .is_file()
    {
        *done = true;
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`node` is installed but `npm ci` could not run in {}: {e}",
                dir.display()
            )
        });
    assert!(
        out.status.success(),
        "`npm ci` in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    *done = true;
}

/// Runs the validator on `path`. Fails when `node` is missing; `None` (with a `SKIPPED`
/// line) then with `IMG23D_SKIP_MISSING_TOOLS=1`.
pub fn validate(path: &Path) -> Option<ValidatorReport> {
    if !node_available() {
        missing_tool::tool_missing(
            &format!("Khronos glTF validation of {}", path.display()),
            "`node` on PATH (Node.js, then `npm ci --prefix tests/gltf-validator`)",
        );
        return None;
    }
    let dir = validator_dir();
    ensure_installed(&dir);
    let out = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running node on validate.mjs failed: {e}"));
    assert!(
        out.status.success(),
        "validate.mjs failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate.mjs printed no JSON report for {}: {e}",
            path.display()
        )
    });
    Some(ValidatorReport {
        path: path.to_path_buf(),
        json,
    })
}

/// Runs the validator on `path` and panics, listing every message, unless it reports 0
/// errors and 0 warnings. Infos and hints are printed on stderr. `None` when skipped.
pub fn assert_valid(path: &Path) -> Option<ValidatorReport> {
    let report = validate(path)?;
    let messages = report.messages();
    assert!(
        report.errors() == 0 && report.warnings() == 0,
        "glTF validator on {}: {} errors, {} warnings:\n{}",
        path.display(),
        report.errors(),
        report.warnings(),
        messages.join("\n")
    );
    if !messages.is_empty() {
        eprintln!(
            "glTF validator on {}: {} infos, {} hints:\n{}",
            path.display(),
            report.infos(),
            report.hints(),
            messages.join("\n")
        );
    }
    Some(report)
}

/// [`assert_valid`] for bytes in memory: writes them to a temporary `.glb` first.
pub fn assert_valid_glb_bytes(bytes: &[u8]) -> Option<ValidatorReport> {
    let dir = std::env::temp_dir().join(format!("img23d-gltf-validator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("asset-{n}.glb"));
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = assert_valid(&path);
    let _ = std::fs::remove_file(&path);
    report
}

//! The reports every command writes: `DIR/<stem>.report.json`, one per input, typed
//! (serde structs) and written atomically by [`write_report`].
//!
//! | command | report | path |
//! |---|---|---|
//! | `img23d IMAGE... -o DIR` | [`ImageReport`] | `DIR/<stem>.report.json` |
//! | `img23d depth PHOTO... -o DIR` | [`DepthReport`] | `DIR/<stem>.report.json` (with `--outputs report`, the default) |
//! | `img23d mesh VOLUME -o OUT.glb` | [`MeshReport`] | `<OUT's folder>/<OUT's stem>.report.json`, or `--report PATH` |
//!
//! Every report starts with the same three fields ([`Header`]) and ends with the same two
//! ([`Timings`]):
//!
//! | key | what |
//! |---|---|
//! | `schema_version` | the layout version, [`SCHEMA_VERSION`]; bumped when a key changes meaning or goes away |
//! | `command` | `img23d`, `img23d depth` or `img23d mesh` |
//! | `img23d_version` | the program's version |
//! | `outputs` | the files written besides the report: `format`, `path`, `bytes` ([`OutputFile`]) |
//! | `stages` | each stage in the order it ran: `name` and wall time `ms` ([`StageTime`]) |
//! | `total_ms` | wall time of the whole input |
//!
//! Every time is in milliseconds, every length in meters, every image size in pixels
//! (`_px`). Keys are stable: scripts and the tests read them.

mod depth;
mod main_job;
mod mesh;

use std::path::{Path, PathBuf};

pub use depth::{DepthConventions, DepthModelReport, DepthReport, PointCloudReport, ReliefReport};
pub use main_job::{
    AppearanceReport, FidelityReport, ForegroundReport, ImageReport, MeshSummary,
    ReconstructionReport, Settings, TriposrReport,
};
pub use mesh::{MeshCounts, MeshReport, VolumeSummary};

use crate::{Error, Result};

/// Version of the reports' layout. 3: one layout for every command (`schema_version`,
/// `command`, `img23d_version`, `outputs`, `stages`, `total_ms`).
pub const SCHEMA_VERSION: u32 = 3;

/// The fields every report starts with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Header {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that wrote it: `img23d`, `img23d depth`, `img23d mesh`.
    pub command: &'static str,
    /// The `img23d` package's version (its workspace crates share it).
    pub img23d_version: &'static str,
}

impl Header {
    /// The header of a report written by `command`.
    pub fn new(command: &'static str) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            command,
            img23d_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The fields every report ends with: each stage's wall time and the total.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    /// Wall time of each stage, in the order they ran.
    pub stages: Vec<StageTime>,
    /// Wall time of the whole input, milliseconds.
    pub total_ms: f64,
}

impl Timings {
    /// The time of stage `name`, milliseconds (0 when it did not run).
    pub fn ms(&self, name: &str) -> f64 {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .map_or(0.0, |s| s.ms)
    }
}

/// One stage's wall time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageTime {
    /// Stage name (`load`, `foreground`, `reconstruction`, `extraction`, ...).
    pub name: &'static str,
    /// Milliseconds.
    pub ms: f64,
}

/// A file written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputFile {
    /// Its format (`glb`, `ply`, `obj`, `npy`, or e.g. `mtl`, `png`, `preview` for
    /// companions).
    pub format: String,
    /// Where.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
}

impl OutputFile {
    /// The file at `path`, as it is on disk now.
    pub fn on_disk(format: impl Into<String>, path: &Path) -> Self {
        Self {
            format: format.into(),
            path: path.to_path_buf(),
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

/// The report of the input with file stem `stem`: `dir/<stem>.report.json`.
pub fn report_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.report.json"))
}

/// Writes `report` as pretty JSON (and a final newline) to `path`, atomically.
pub fn write_report(path: &Path, report: &impl serde::Serialize) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(report).map_err(|e| Error::Stage {
        stage: "report",
        source: img23d_meshing::Error::Json(e),
        path: path.to_path_buf(),
    })?;
    json.push(b'\n');
    img23d_meshing::io::write_bytes_atomic(path, &json).map_err(|e| match e {
        img23d_meshing::Error::Io { source, path } => Error::Io { source, path },
        other => Error::Meshing(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Example {
        #[serde(flatten)]
        header: Header,
        answer: u32,
        #[serde(flatten)]
        timings: Timings,
    }

    #[test]
    fn every_report_shares_its_first_and_last_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = report_path(dir.path(), "chair");
        assert_eq!(path, dir.path().join("chair.report.json"));
        let timings = Timings {
            stages: vec![StageTime {
                name: "load",
                ms: 1.5,
            }],
            total_ms: 2.0,
        };
        assert_eq!((timings.ms("load"), timings.ms("bake")), (1.5, 0.0));
        let report = Example {
            header: Header::new("img23d"),
            answer: 42,
            timings,
        };
        write_report(&path, &report).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"), "{text}");
        let at = |key: &str| {
            text.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} missing in {text}"))
        };
        let order = [
            "schema_version",
            "command",
            "img23d_version",
            "answer",
            "stages",
            "total_ms",
        ]
        .map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains(&format!("\"schema_version\": {SCHEMA_VERSION}")));
    }
}

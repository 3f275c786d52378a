//! `img23d mesh`'s report, `<stem>.report.json` beside the output ([`MeshReport`]): the
//! volume read, the mesh's counts and topology check, the simplification's figures. The
//! fields every report shares are described in [`crate::report`]; the marching-cubes time
//! alone is the `mc` stage.

use std::path::PathBuf;

use img23d_meshing::simplify::SimplifyReport;
use img23d_meshing::topology::TopologyReport;
use img23d_meshing::{Bounds, Inside};

use super::{Header, OutputFile, Timings};

/// One volume through `img23d mesh`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MeshReport {
    /// `schema_version`, `command` (`img23d mesh`), `img23d_version`.
    #[serde(flatten)]
    pub header: Header,
    /// The `.npy` volume.
    pub input: PathBuf,
    /// Its shape and where it sits.
    pub volume: VolumeSummary,
    /// The mesh written.
    pub mesh: MeshCounts,
    /// The simplification's figures, with `--faces`.
    pub simplify: Option<SimplifyReport>,
    /// Files written (besides this report).
    pub outputs: Vec<OutputFile>,
    /// `stages` and `total_ms`.
    #[serde(flatten)]
    pub timings: Timings,
}

/// The volume as read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VolumeSummary {
    /// The array's shape, `(nz, ny, nx)`.
    pub shape: [usize; 3],
    /// The box its samples span.
    pub bounds: Bounds,
    /// The iso level.
    pub iso: f32,
    /// Which side of the level is inside.
    pub inside: Inside,
}

/// The mesh's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MeshCounts {
    /// Vertices.
    pub vertices: usize,
    /// Triangles.
    pub triangles: usize,
    /// Triangles straight out of marching cubes.
    pub marching_cubes_triangles: usize,
    /// Every edge in two triangles, consistently oriented.
    pub closed_manifold: bool,
    /// Connected pieces.
    pub components: usize,
    /// V - E + F.
    pub euler_characteristic: i64,
    /// The full topology check.
    pub topology: TopologyReport,
}

//! Shared helpers of the end-to-end tests: running the `img23d` binary, and reading what
//! it wrote back with independent readers (the `gltf` crate, `ply-rs-bw`, `tobj`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use img23d_meshing::Mesh;
use img23d_meshing::topology::{TopologyReport, analyze};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// Every example picture the command must handle.
pub const EXAMPLES: &[&str] = &[
    "chair.png",
    "vase.png",
    "apple.jpg",
    "bottle.jpg",
    "duck.webp",
    "robot16.png",
];

/// The built binary, with logging off and an empty models folder (so the user's
/// installed models never change what a test sees).
pub fn img23d() -> Command {
    let models =
        std::env::temp_dir().join(format!("img23d-tests-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&models).expect("temporary models folder");
    let mut c = Command::new(env!("CARGO_BIN_EXE_img23d"));
    c.env_remove("IMG23D_LOG")
        .env_remove("RUST_LOG")
        .env("IMG23D_MODELS", &models);
    c
}

/// Runs `img23d` with `args`.
pub fn run(args: &[&std::ffi::OsStr]) -> Output {
    img23d()
        .args(args)
        .output()
        .expect("the img23d binary runs")
}

/// Runs `img23d` with `args` and asserts success; returns stdout.
pub fn run_ok(args: &[&std::ffi::OsStr]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "img23d {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The files in `dir` (names, sorted); empty when `dir` does not exist.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Reads the first mesh of a GLB with the `gltf` crate: positions, normals, colors
/// (COLOR_0, linear) and triangles.
pub fn read_glb(path: &Path) -> Mesh {
    let (doc, buffers, _) =
        gltf::import(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut mesh = Mesh::default();
    let gltf_mesh = doc.meshes().next().expect("a mesh");
    for prim in gltf_mesh.primitives() {
        assert_eq!(prim.mode(), gltf::mesh::Mode::Triangles);
        let reader = prim.reader(|b| Some(&buffers[b.index()]));
        let base = mesh.positions.len() as u32;
        mesh.positions
            .extend(reader.read_positions().expect("POSITION"));
        mesh.normals.extend(reader.read_normals().expect("NORMAL"));
        if let Some(c) = reader.read_colors(0) {
            mesh.colors.extend(c.into_rgb_f32());
        }
        let idx: Vec<u32> = reader.read_indices().expect("indices").into_u32().collect();
        mesh.triangles.extend(
            idx.chunks_exact(3)
                .map(|t| [t[0] + base, t[1] + base, t[2] + base]),
        );
    }
    mesh
}

/// Reads a binary PLY with `ply-rs-bw`: positions, normals, 8-bit colors, triangles.
pub fn read_ply(path: &Path) -> Mesh {
    use ply_rs_bw::parser::Parser;
    use ply_rs_bw::ply::{DefaultElement, Property};
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ply = Parser::<DefaultElement>::new()
        .read_ply(&mut f)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let float = |e: &DefaultElement, k: &str| match e.get(k) {
        Some(Property::Float(v)) => *v,
        other => panic!("{k}: {other:?}"),
    };
    let byte = |e: &DefaultElement, k: &str| match e.get(k) {
        Some(Property::UChar(v)) => f32::from(*v) / 255.0,
        other => panic!("{k}: {other:?}"),
    };
    let mut mesh = Mesh::default();
    for v in &ply.payload["vertex"] {
        mesh.positions
            .push([float(v, "x"), float(v, "y"), float(v, "z")]);
        mesh.normals
            .push([float(v, "nx"), float(v, "ny"), float(v, "nz")]);
        mesh.colors
            .push([byte(v, "red"), byte(v, "green"), byte(v, "blue")]);
    }
    for f in &ply.payload["face"] {
        match f.get("vertex_indices") {
            Some(Property::ListUInt(l)) => {
                assert_eq!(l.len(), 3, "triangles only");
                mesh.triangles.push([l[0], l[1], l[2]]);
            }
            other => panic!("vertex_indices: {other:?}"),
        }
    }
    mesh
}

/// Reads an OBJ with `tobj` (vertex colors included).
pub fn read_obj(path: &Path) -> Mesh {
    let (models, _) = tobj::load_obj(
        path,
        &tobj::LoadOptions {
            triangulate: false,
            single_index: false,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut mesh = Mesh::default();
    for m in models {
        let base = mesh.positions.len() as u32;
        let p = &m.mesh.positions;
        mesh.positions
            .extend(p.chunks_exact(3).map(|c| [c[0], c[1], c[2]]));
        mesh.colors.extend(
            m.mesh
                .vertex_color
                .chunks_exact(3)
                .map(|c| [c[0], c[1], c[2]]),
        );
        mesh.triangles.extend(
            m.mesh
                .indices
                .chunks_exact(3)
                .map(|t| [t[0] + base, t[1] + base, t[2] + base]),
        );
    }
    mesh
}

/// Validates `mesh` and checks that it is closed and 2-manifold; returns the topology.
pub fn assert_closed_manifold(mesh: &Mesh, what: &str) -> TopologyReport {
    mesh.validate()
        .unwrap_or_else(|e| panic!("{what}: invalid mesh: {e}"));
    let topo = analyze(mesh);
    assert!(
        topo.is_closed_manifold(),
        "{what}: not closed and 2-manifold: {topo:?}"
    );
    assert!(mesh.signed_volume() > 0.0, "{what}: triangles wound inward");
    topo
}

/// Asserts that `mesh` stands on y = 0, is `height` tall along +Y and centred on the Y
/// axis (within `tol` meters).
pub fn assert_upright_with_height(mesh: &Mesh, height: f32, tol: f32, what: &str) {
    let (min, max) = mesh.bounding_box().expect("non-empty");
    assert!(min[1].abs() < tol, "{what}: lowest point at y = {}", min[1]);
    assert!(
        (max[1] - height).abs() < tol,
        "{what}: top at y = {}, expected {height}",
        max[1]
    );
    for a in [0, 2] {
        assert!(
            (min[a] + max[a]).abs() < 2.0 * tol,
            "{what}: not centred on axis {a}: {min:?} {max:?}"
        );
    }
}

/// Reads `DIR/<stem>.report.json`.
pub fn read_report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

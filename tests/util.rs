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
/// (COLOR_0, linear), UVs (TEXCOORD_0) and triangles.
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
        if let Some(t) = reader.read_tex_coords(0) {
            mesh.uvs.extend(t.into_f32());
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

/// The material of a GLB's first primitive, read with the `gltf` crate.
pub struct GlbMaterial {
    /// The decoded base color texture, when there is one.
    pub texture: Option<image::RgbaImage>,
    /// Metalness factor.
    pub metallic: f32,
    /// Roughness factor.
    pub roughness: f32,
}

/// Reads the first primitive's material of a GLB, decoding its base color texture.
pub fn read_glb_material(path: &Path) -> GlbMaterial {
    let (doc, _, images) = gltf::import(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let prim = doc
        .meshes()
        .next()
        .and_then(|m| m.primitives().next())
        .expect("a primitive");
    let pbr = prim.material().pbr_metallic_roughness();
    let texture = pbr.base_color_texture().map(|info| {
        let data = &images[info.texture().source().index()];
        let (w, h) = (data.width, data.height);
        match data.format {
            gltf::image::Format::R8G8B8A8 => {
                image::RgbaImage::from_raw(w, h, data.pixels.clone()).expect("RGBA pixels")
            }
            gltf::image::Format::R8G8B8 => image::DynamicImage::ImageRgb8(
                image::RgbImage::from_raw(w, h, data.pixels.clone()).expect("RGB pixels"),
            )
            .to_rgba8(),
            other => panic!("{}: unexpected texture format {other:?}", path.display()),
        }
    });
    GlbMaterial {
        texture,
        metallic: pbr.metallic_factor(),
        roughness: pbr.roughness_factor(),
    }
}

/// Merges vertices with bit-identical positions (the copies a UV atlas makes along its
/// seams), keeping the first copy's attributes and dropping UVs.
pub fn weld(mesh: &Mesh) -> Mesh {
    let mut first: std::collections::HashMap<[u32; 3], u32> = std::collections::HashMap::new();
    let mut out = Mesh::default();
    let mut remap = Vec::with_capacity(mesh.positions.len());
    for (i, p) in mesh.positions.iter().enumerate() {
        let key = p.map(f32::to_bits);
        let index = *first.entry(key).or_insert_with(|| {
            out.positions.push(*p);
            if let Some(n) = mesh.normals.get(i) {
                out.normals.push(*n);
            }
            if let Some(c) = mesh.colors.get(i) {
                out.colors.push(*c);
            }
            (out.positions.len() - 1) as u32
        });
        remap.push(index);
    }
    out.triangles = mesh
        .triangles
        .iter()
        .map(|t| t.map(|i| remap[i as usize]))
        .collect();
    out
}

/// Mean absolute difference (per channel, in [0, 1]) between `texture` looked up at each
/// vertex's UV (nearest texel) and the vertex color of the vertex at the same position in
/// `colored` (sRGB colors, e.g. the PLY). A flipped or misplaced UV layout shows up as a
/// large difference.
pub fn texture_vs_vertex_colors(
    textured: &Mesh,
    texture: &image::RgbaImage,
    colored: &Mesh,
) -> f32 {
    let colors: std::collections::HashMap<[u32; 3], [f32; 3]> = colored
        .positions
        .iter()
        .zip(&colored.colors)
        .map(|(p, c)| (p.map(f32::to_bits), *c))
        .collect();
    let (w, h) = texture.dimensions();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (p, uv) in textured.positions.iter().zip(&textured.uvs) {
        let Some(c) = colors.get(&p.map(f32::to_bits)) else {
            continue;
        };
        let x = ((uv[0] * w as f32) as u32).min(w - 1);
        let y = ((uv[1] * h as f32) as u32).min(h - 1);
        let t = texture.get_pixel(x, y).0;
        for k in 0..3 {
            sum += f64::from((f32::from(t[k]) / 255.0 - c[k]).abs());
        }
        n += 3;
    }
    assert!(
        n > 0,
        "no vertex of the textured mesh found in the colored one"
    );
    (sum / n as f64) as f32
}

/// The `.glb` files in `dir` (names, sorted).
pub fn glbs_in(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|n| n.ends_with(".glb"))
        .collect()
}

pub use crate::gltf_validator::missing_tool::tool_missing;

/// Runs the Khronos glTF validator on every `.glb` in `dir` (0 errors, 0 warnings);
/// returns how many it validated: every one, or none where the validator is skipped
/// (no `node`, with `IMG23D_SKIP_MISSING_TOOLS=1`; see [`validated`]).
pub fn validate_glbs_in(dir: &Path) -> usize {
    glbs_in(dir)
        .iter()
        .filter(|name| crate::gltf_validator::assert_valid(&dir.join(name)).is_some())
        .count()
}

/// What [`validate_glbs_in`] returns for a folder with `glbs` GLB files: all of them when
/// the validator runs here, else 0.
pub fn validated(glbs: usize) -> usize {
    if crate::gltf_validator::available() {
        glbs
    } else {
        0
    }
}

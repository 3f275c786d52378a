//! Real viewers: the assets img23d writes, opened by the programs people use.
//!
//! * three.js's GLTFLoader in headless Chromium (`tests/viewers/threejs_view.mjs`): a
//!   textured GLB from the library must show the object where our own renderer draws it
//!   from the same camera (silhouette IoU), upright (the top of the object, colored blue,
//!   above its red bottom) and textured; the GLB the command writes for
//!   `examples/chair.png` must show the chair from the front: visible, where our renderer
//!   draws it, taller than wide, its red seat below the wooden back, in the texture's colors.
//!   Needs `node` and `chromium` (Debian package). `npm ci` runs in `tests/viewers` when
//!   three.js is not installed yet.
//! * Blender's own glTF importer in background mode (`tests/viewers/blender_check.py`):
//!   the command's chair GLB imports as one mesh with a UV map, Z-up (1 m tall along +Z,
//!   standing on z = 0, the glTF front +Z turned to Blender -Y: every extreme point of the
//!   imported mesh is where the glTF one maps to), Base Color fed by a 1024² Image
//!   Texture through that UV map, metallic and roughness as written; a small Cycles CPU
//!   render from the front shows the chair upright in its wood and red colors. Needs
//!   `blender` (Debian package).
//!
//! Without the programs a test fails, saying what to install; with
//! `IMG23D_SKIP_MISSING_TOOLS=1` it says SKIPPED on the terminal instead.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use img23d_meshing::atlas::{AtlasOptions, build_atlas};
use img23d_meshing::bake::{BakeOptions, bake_texture};
use img23d_meshing::export::{GlbOptions, write_glb};
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_meshing::render::{Camera, RenderOptions, Shading, render};
use img23d_meshing::{Asset, Bounds, Field, FieldError, Inside, Material, Surface};

use crate::gltf_validator;
use crate::util::{example, read_glb, read_glb_material, run_ok, tool_missing};

/// A snowman: a big sphere with a small one on top; red below y = 0.1, blue above,
/// with thin white rings every 0.1 so a texture mix-up shows.
struct Snowman;

impl Field for Snowman {
    fn name(&self) -> &str {
        "snowman"
    }
    fn bounds(&self) -> Bounds {
        Bounds::cube(1.0)
    }
    fn surface(&self) -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        for (p, o) in points.iter().zip(out) {
            let d = |c: [f32; 3], r: f32| {
                ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt() - r
            };
            *o = d([0.0, -0.35, 0.0], 0.5).min(d([0.0, 0.45, 0.0], 0.32));
        }
        Ok(())
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        for (p, o) in points.iter().zip(out) {
            let ring = (p[1] * 10.0).fract().abs() < 0.08;
            *o = if ring {
                [1.0, 1.0, 1.0]
            } else if p[1] < 0.1 {
                [0.85, 0.1, 0.1]
            } else {
                [0.1, 0.2, 0.9]
            };
        }
        Ok(())
    }
}

fn tool_available(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn viewers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("viewers")
}

/// Whether `node` and Chromium are there (three.js installed into `tests/viewers` if
/// not yet); fails when they are not, or says SKIPPED with `IMG23D_SKIP_MISSING_TOOLS=1`.
fn threejs_ready() -> bool {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
    if !tool_available("node", "--version") || !tool_available(&browser, "--version") {
        tool_missing(
            "three.js viewer test",
            &format!("`node` and `{browser}` on PATH (Node.js, Chromium)"),
        );
        return false;
    }
    // One `npm ci` at a time: the two three.js tests may both find it not installed.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = viewers_dir();
    if !dir.join("node_modules/three/package.json").is_file() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "`npm ci` in {} failed", dir.display());
    }
    true
}

/// Renders `glb` with three.js's GLTFLoader in headless Chromium from `camera` (vertical
/// field of view `fov_deg`) into a `size`² screenshot at `shot`; asserts the page loaded a
/// textured asset and returns the screenshot (background pure green).
fn threejs_shot(
    glb: &Path,
    shot: &Path,
    camera: &Camera,
    fov_deg: f32,
    size: u32,
) -> image::RgbaImage {
    let fmt = |v: [f32; 3]| format!("{},{},{}", v[0], v[1], v[2]);
    let out = Command::new("node")
        .arg(viewers_dir().join("threejs_view.mjs"))
        .arg(glb)
        .arg(shot)
        .arg(fmt(camera.eye))
        .arg(fmt(camera.target))
        .arg(fov_deg.to_string())
        .arg(size.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "three.js viewer failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("rendered textured"), "{stdout}");
    let three = image::open(shot).unwrap().to_rgba8();
    assert_eq!(three.dimensions(), (size, size));
    three
}

#[test]
fn threejs_gltfloader_shows_the_textured_asset_upright() {
    if !threejs_ready() {
        return;
    }

    // The asset: extracted, atlased, baked, exported.
    let field = Snowman;
    let mut mesh = extract(
        &field,
        &ExtractOptions {
            resolution: 96,
            ..ExtractOptions::default()
        },
    )
    .unwrap()
    .mesh;
    mesh.compute_normals();
    let atlas = build_atlas(
        &mesh,
        &AtlasOptions {
            texture_size: 512,
            ..AtlasOptions::default()
        },
    )
    .unwrap();
    let texture = bake_texture(
        &atlas.mesh,
        &field,
        &BakeOptions {
            size: 512,
            ..BakeOptions::default()
        },
    )
    .unwrap();
    let asset = Asset {
        name: "snowman".into(),
        mesh: atlas.mesh,
        material: Material {
            base_color_texture: Some(texture),
            ..Material::default()
        },
    };
    let tmp = tempfile::tempdir().unwrap();
    let glb = tmp.path().join("snowman.glb");
    write_glb(&glb, &asset, &GlbOptions::default()).unwrap();
    gltf_validator::assert_valid(&glb);

    // Same camera for three.js and our renderer.
    let camera = Camera::orbit([0.0, 0.0, 0.0], 3.2, 30.0, 10.0, 40.0);
    let size = 256u32;
    let three = threejs_shot(&glb, &tmp.path().join("three.png"), &camera, 40.0, size);

    let ours = render(
        &asset,
        &camera,
        size,
        size,
        &RenderOptions {
            shading: Shading::Unlit,
            supersample: 1,
            ..RenderOptions::default()
        },
    )
    .unwrap()
    .image;
    // three.js clears to pure green: everything else is the object.
    let object = |p: &image::Rgba<u8>| !(p.0[1] > 200 && p.0[0] < 60 && p.0[2] < 60);
    let (mut inter, mut union, mut count) = (0usize, 0usize, 0usize);
    let (mut red_y, mut red_n, mut blue_y, mut blue_n) = (0f64, 0f64, 0f64, 0f64);
    for (y, (a, b)) in three
        .rows()
        .zip(ours.rows())
        .enumerate()
        .flat_map(|(y, (ra, rb))| ra.zip(rb).map(move |p| (y, p)))
    {
        let (ta, tb) = (object(a), b.0[3] >= 128);
        inter += usize::from(ta && tb);
        union += usize::from(ta || tb);
        count += usize::from(ta);
        let [r, _, bl, _] = a.0;
        if ta && r > 120 && bl < 90 {
            red_y += y as f64;
            red_n += 1.0;
        }
        if ta && bl > 120 && r < 90 {
            blue_y += y as f64;
            blue_n += 1.0;
        }
    }
    let iou = inter as f64 / union.max(1) as f64;
    let fraction = count as f64 / f64::from(size * size);
    assert!(fraction > 0.05, "three.js shows almost nothing: {fraction}");
    assert!(iou > 0.9, "three.js and our renderer disagree: IoU {iou}");
    assert!(
        red_n > 100.0 && blue_n > 100.0,
        "texture colors missing: red {red_n} blue {blue_n}"
    );
    // Rows grow downwards: the blue top must sit above the red bottom.
    assert!(
        blue_y / blue_n < red_y / red_n,
        "upside down: blue at row {}, red at row {}",
        blue_y / blue_n,
        red_y / red_n
    );
}

/// Runs the command on `examples/chair.png` (grid resolution 128, the default 1024²
/// texture) into `dir`; returns `DIR/chair.glb`, checked by the Khronos validator.
fn command_chair_glb(dir: &Path) -> PathBuf {
    let input = example("chair.png");
    run_ok(&[
        input.as_os_str(),
        OsStr::new("-o"),
        dir.as_os_str(),
        OsStr::new("--resolution"),
        OsStr::new("128"),
    ]);
    let glb = dir.join("chair.glb");
    assert!(glb.is_file(), "no {}", glb.display());
    gltf_validator::assert_valid(&glb);
    glb
}

/// What a front view of the chair shows, from the object's pixels of a screenshot.
#[derive(Debug)]
struct ChairView {
    /// Object pixels over all pixels.
    fraction: f64,
    /// Rows and columns the object covers: (left, top, right, bottom), inclusive.
    bbox: (u32, u32, u32, u32),
    /// Object pixels that are colorful (max - min channel > 40 of 255), over the object's.
    colorful: f64,
    /// Red seat pixels and their mean row.
    red: (usize, f64),
    /// Brown wood pixels and their mean row.
    wood: (usize, f64),
    /// Wood pixels above the highest red row (the back of the chair).
    wood_above_seat: usize,
}

/// Classifies the object pixels (`is_object`) of `img`: red (the seat), brown (the wood).
fn chair_view(img: &image::RgbaImage, is_object: impl Fn(&image::Rgba<u8>) -> bool) -> ChairView {
    let (w, h) = img.dimensions();
    let (mut count, mut colorful) = (0usize, 0usize);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    let (mut red_n, mut red_y, mut red_top) = (0usize, 0f64, u32::MAX);
    let (mut wood_n, mut wood_y) = (0usize, 0f64);
    let mut wood_rows = Vec::new();
    for (x, y, p) in img.enumerate_pixels() {
        if !is_object(p) {
            continue;
        }
        count += 1;
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        let [r, g, b, _] = p.0.map(i32::from);
        colorful += usize::from(r.max(g).max(b) - r.min(g).min(b) > 40);
        if r > 90 && r > 2 * g && r > 2 * b {
            red_n += 1;
            red_y += f64::from(y);
            red_top = red_top.min(y);
        } else if r > g && g > b && r - b > 30 && 2 * g >= r {
            wood_n += 1;
            wood_y += f64::from(y);
            wood_rows.push(y);
        }
    }
    ChairView {
        fraction: count as f64 / f64::from(w * h),
        bbox: (x0, y0, x1, y1),
        colorful: colorful as f64 / count.max(1) as f64,
        red: (red_n, red_y / red_n.max(1) as f64),
        wood: (wood_n, wood_y / wood_n.max(1) as f64),
        wood_above_seat: wood_rows.iter().filter(|&&y| y < red_top).count(),
    }
}

/// Asserts that `v` shows the chair from the front: visible, upright (taller than wide,
/// the red seat in the lower part, wood above it), in the texture's colors.
fn assert_chair_front(v: &ChairView, what: &str) {
    let ctx = format!("{what}: {v:?}");
    assert!(v.fraction > 0.05, "almost nothing visible: {ctx}");
    let (x0, y0, x1, y1) = v.bbox;
    let (width, height) = (f64::from(x1 - x0 + 1), f64::from(y1 - y0 + 1));
    assert!(
        height > 1.15 * width,
        "not upright (lying on its side?): {ctx}"
    );
    assert!(v.colorful > 0.6, "not textured (white or grey): {ctx}");
    assert!(
        v.red.0 > 50 && v.wood.0 > 200,
        "red seat or wood missing: {ctx}"
    );
    // Rows grow downwards: the seat sits in the lower half of the chair, the back above it.
    let seat = (v.red.1 - f64::from(y0)) / height;
    assert!(
        (0.45..0.85).contains(&seat),
        "seat at {seat} of the height from the top (upside down?): {ctx}"
    );
    assert!(
        v.wood_above_seat > 100,
        "no wooden back above the seat: {ctx}"
    );
}

#[test]
fn threejs_gltfloader_shows_the_commands_chair_upright_and_textured() {
    if !threejs_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let glb = command_chair_glb(tmp.path());

    // From the front (+Z), a little above, as the picture was taken.
    let camera = Camera::orbit([0.0, 0.5, 0.0], 2.6, 0.0, 8.0, 30.0);
    let size = 192u32;
    let three = threejs_shot(&glb, &tmp.path().join("three.png"), &camera, 30.0, size);
    let object = |p: &image::Rgba<u8>| !(p.0[1] > 200 && p.0[0] < 60 && p.0[2] < 60);
    let view = chair_view(&three, object);
    assert_chair_front(&view, "three.js");

    // Where our renderer draws the GLB as read back by the `gltf` crate.
    let material = read_glb_material(&glb);
    assert!(material.texture.is_some(), "no base color texture");
    let asset = Asset {
        name: "chair".into(),
        mesh: read_glb(&glb),
        material: Material {
            base_color_texture: material.texture,
            metallic: material.metallic,
            roughness: material.roughness,
            ..Material::default()
        },
    };
    let ours = render(
        &asset,
        &camera,
        size,
        size,
        &RenderOptions {
            shading: Shading::Unlit,
            supersample: 1,
            ..RenderOptions::default()
        },
    )
    .unwrap()
    .image;
    let (mut inter, mut union) = (0usize, 0usize);
    for (a, b) in three.pixels().zip(ours.pixels()) {
        let (ta, tb) = (object(a), b.0[3] >= 128);
        inter += usize::from(ta && tb);
        union += usize::from(ta || tb);
    }
    let iou = inter as f64 / union.max(1) as f64;
    assert!(iou > 0.85, "three.js and our renderer disagree: IoU {iou}");
}

/// Whether `blender` runs; fails when it does not, or says SKIPPED with
/// `IMG23D_SKIP_MISSING_TOOLS=1`.
fn blender_ready() -> bool {
    if tool_available("blender", "--version") {
        return true;
    }
    tool_missing("Blender import test", "`blender` on PATH (Blender)");
    false
}

/// Imports `glb` with Blender's glTF importer (`tests/viewers/blender_check.py`),
/// rendering a `size`² Cycles picture from the front into `render` when given; returns
/// the script's JSON line. Fails on any error or warning Blender prints.
fn blender_check(glb: &Path, render: Option<(&Path, u32)>) -> serde_json::Value {
    let mut cmd = Command::new("blender");
    cmd.args([
        "-b",
        "--factory-startup",
        "--python-exit-code",
        "1",
        "--python",
    ])
    .arg(viewers_dir().join("blender_check.py"))
    .arg("--")
    .arg(glb);
    if let Some((path, size)) = render {
        cmd.arg(path).arg(size.to_string()).arg("16");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "blender failed with {:?} (its glTF importer needs NumPy: Debian python3-numpy):\n{stdout}\n{stderr}",
        out.status
    );
    for line in stdout.lines().chain(stderr.lines()) {
        let lower = line.to_lowercase();
        assert!(
            !lower.contains("error") && !lower.contains("warning") && !lower.contains("traceback"),
            "Blender complains: {line}\n{stdout}\n{stderr}"
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("IMG23D_BLENDER "))
        .unwrap_or_else(|| panic!("no result line from blender_check.py:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Largest difference between the support function Blender reports for its mesh and the
/// one of `mesh`'s vertices mapped into Blender's frame by `to_blender`.
fn support_difference(
    blender_mesh: &serde_json::Value,
    mesh: &img23d_meshing::Mesh,
    to_blender: impl Fn([f32; 3]) -> [f64; 3],
) -> f64 {
    let mapped: Vec<[f64; 3]> = mesh.positions.iter().map(|&p| to_blender(p)).collect();
    let support = blender_mesh["support"].as_array().expect("support");
    assert_eq!(support.len(), 26);
    support
        .iter()
        .map(|s| {
            let d = [f(&s[0]), f(&s[1]), f(&s[2])];
            let ours = mapped
                .iter()
                .map(|p| d[0] * p[0] + d[1] * p[1] + d[2] * p[2])
                .fold(f64::NEG_INFINITY, f64::max);
            (ours - f(&s[3])).abs()
        })
        .fold(0.0, f64::max)
}

/// glTF (+Y up, front +Z) to Blender (+Z up, front -Y): what Blender's importer does.
fn gltf_to_blender(p: [f32; 3]) -> [f64; 3] {
    [f64::from(p[0]), -f64::from(p[2]), f64::from(p[1])]
}

/// The same turned front to back: glTF +Z to Blender +Y.
fn gltf_to_blender_backwards(p: [f32; 3]) -> [f64; 3] {
    [-f64::from(p[0]), f64::from(p[2]), f64::from(p[1])]
}

#[test]
fn blender_imports_the_commands_chair_textured_and_upright() {
    if !blender_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let glb = command_chair_glb(tmp.path());
    let shot = tmp.path().join("blender.png");
    let size = 128u32;
    let info = blender_check(&glb, Some((&shot, size)));
    let ctx = info.to_string();
    let gltf_mesh = read_glb(&glb);
    let written = read_glb_material(&glb);

    // One mesh object, all triangles kept, one UV map, no vertex colors.
    let meshes = info["meshes"].as_array().expect("meshes");
    assert_eq!(meshes.len(), 1, "{ctx}");
    let m = &meshes[0];
    assert_eq!(
        m["faces"].as_u64(),
        Some(gltf_mesh.triangles.len() as u64),
        "{ctx}"
    );
    assert_eq!(m["triangles"], m["faces"], "{ctx}");
    let vertices = m["vertices"].as_u64().expect("vertices") as usize;
    assert!(
        vertices > 1000 && vertices <= gltf_mesh.positions.len(),
        "{vertices} vertices in Blender, {} in the GLB: {ctx}",
        gltf_mesh.positions.len()
    );
    assert_eq!(m["uv_maps"].as_array().map(Vec::len), Some(1), "{ctx}");
    assert_eq!(
        m["color_attributes"].as_array().map(Vec::len),
        Some(0),
        "{ctx}"
    );

    // Z-up: 1 m tall along +Z, standing on z = 0, centred on the Z axis.
    let (lo, hi) = (&info["bbox_min"], &info["bbox_max"]);
    assert!(f(&lo[2]).abs() < 1e-3, "not standing on z = 0: {ctx}");
    assert!(
        (f(&hi[2]) - 1.0).abs() < 1e-3,
        "not 1 m tall along +Z: {ctx}"
    );
    for a in 0..2 {
        assert!(f(&lo[a]) + f(&hi[a]) < 1e-3, "not centred: {ctx}");
        assert!(f(&hi[a]) - f(&lo[a]) < 1.0, "lying down: {ctx}");
    }
    // Every extreme point is where glTF's maps to (+Y up to +Z up, +Z front to -Y).
    let diff = support_difference(m, &gltf_mesh, gltf_to_blender);
    assert!(diff < 1e-4, "Blender's mesh is not the GLB's Z-up: {diff}");

    // Base Color from a 1024² Image Texture read through the mesh's UV map; metallic and
    // roughness as written.
    let mats = info["materials"].as_array().expect("materials");
    assert_eq!(mats.len(), 1, "{ctx}");
    let mat = &mats[0];
    assert_eq!(m["materials"][0], mat["name"], "{ctx}");
    assert_eq!(mat["principled"], true, "{ctx}");
    assert_eq!(mat["base_color_node"], "TEX_IMAGE", "{ctx}");
    assert_eq!(
        mat["image"]["size"],
        serde_json::json!([1024, 1024]),
        "{ctx}"
    );
    assert_eq!(mat["image"]["colorspace"], "sRGB", "{ctx}");
    // No UV node: the image reads the active (only) UV map.
    assert!(
        mat["uv_node"].is_null() || (mat["uv_node"] == "UVMAP" && mat["uv_map"] == m["uv_maps"][0]),
        "{ctx}"
    );
    assert_eq!(mat["metallic_linked"], false, "{ctx}");
    assert_eq!(mat["roughness_linked"], false, "{ctx}");
    assert!(
        (f(&mat["metallic"]) - f64::from(written.metallic)).abs() < 1e-4,
        "{ctx}"
    );
    assert!(
        (f(&mat["roughness"]) - f64::from(written.roughness)).abs() < 1e-4,
        "{ctx}"
    );

    // Cycles from the front (-Y): the chair, upright, in wood and red.
    let img = image::open(&shot).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (size, size));
    let view = chair_view(&img, |p| p.0[3] >= 128);
    assert_chair_front(&view, "Blender Cycles");
}

/// A snowman with a nose on the front of its head (+Z), so front and back differ.
struct NosedSnowman;

impl Field for NosedSnowman {
    fn name(&self) -> &str {
        "nosed snowman"
    }
    fn bounds(&self) -> Bounds {
        Bounds::cube(1.0)
    }
    fn surface(&self) -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        Snowman.eval_scalar(points, out)?;
        for (p, o) in points.iter().zip(out) {
            let nose = (p[0].powi(2) + (p[1] - 0.45).powi(2) + (p[2] - 0.4).powi(2)).sqrt() - 0.12;
            *o = o.min(nose);
        }
        Ok(())
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        Snowman.eval_color(points, out)
    }
}

#[test]
fn blender_turns_the_glb_front_to_minus_y() {
    if !blender_ready() {
        return;
    }
    let mut mesh = extract(
        &NosedSnowman,
        &ExtractOptions {
            resolution: 64,
            ..ExtractOptions::default()
        },
    )
    .unwrap()
    .mesh;
    mesh.compute_normals();
    let asset = Asset {
        name: "nosed".into(),
        mesh,
        material: Material::default(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let glb = tmp.path().join("nosed.glb");
    write_glb(&glb, &asset, &GlbOptions::default()).unwrap();
    gltf_validator::assert_valid(&glb);
    let info = blender_check(&glb, None);
    let m = &info["meshes"][0];
    let gltf_mesh = read_glb(&glb);
    let right = support_difference(m, &gltf_mesh, gltf_to_blender);
    let backwards = support_difference(m, &gltf_mesh, gltf_to_blender_backwards);
    assert!(
        right < 1e-4,
        "Blender's mesh is not the GLB's Z-up: {right}"
    );
    // The nose reaches further forward than the back does: the check can tell.
    assert!(backwards > 0.05, "front and back alike: {backwards}");
    assert!(
        f(&info["bbox_min"][1]) < -0.5 && f(&info["bbox_max"][1]) < 0.55,
        "the nose is not at -Y: {info}"
    );
}

//! `img23d IMAGE... -o DIR` on the example pictures: every output is read back by an
//! independent reader and checked (Khronos validator for GLB, `ply-rs-bw` for PLY, `tobj`
//! for OBJ), the mesh is closed, 2-manifold, upright and as tall as asked, the texture
//! agrees with the vertex colors, and the asset seen from the input camera matches the
//! picture (the fidelity targets of the weight-free path: IoU >= 0.97, PSNR >= 25 dB).

use std::ffi::OsStr;
use std::path::Path;

use crate::gltf_validator;
use crate::util::*;

/// The stages every successful picture reports, in order.
const STAGES: &[&str] = &[
    "load",
    "foreground",
    "reconstruction",
    "extraction",
    "geometry",
    "appearance",
    "atlas",
    "bake",
    "export",
    "preview",
    "fidelity",
];

/// Fidelity targets of the weight-free path on the examples (issue: assets people can use).
const MIN_IOU: f64 = 0.97;
const MIN_PSNR_DB: f64 = 25.0;

/// Runs the main job on `examples/<name>` into `out` with `extra` arguments, asserting
/// success; returns stdout.
fn run_example(name: &str, out: &Path, extra: &[&str]) -> String {
    let input = example(name);
    let mut args: Vec<&OsStr> = vec![input.as_os_str(), OsStr::new("-o"), out.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    run_ok(&args)
}

/// Runs the main job on `examples/<name>` into a fresh folder with every format, checks
/// every output, and returns the folder (kept alive) with the PLY's (welded, vertex-colored)
/// mesh.
fn check_example(name: &str, extra: &[&str]) -> (tempfile::TempDir, img23d_meshing::Mesh) {
    let dir = tempfile::tempdir().unwrap();
    let input = example(name);
    let mut args = vec!["--format", "glb,ply,obj"];
    args.extend(extra);
    let stdout = run_example(name, dir.path(), &args);

    // One line per stage, and the plain word about the reconstruction used.
    for stage in STAGES {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name}: {stage} "))),
            "no `{stage}` line in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("built-in weight-free")
            && stdout.contains("no neural model")
            && stdout.contains("img23d models fetch triposr-encoder"),
        "{stdout}"
    );

    let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
    assert_eq!(
        files_in(dir.path()),
        [
            format!("{stem}.glb"),
            format!("{stem}.mtl"),
            format!("{stem}.obj"),
            format!("{stem}.ply"),
            format!("{stem}.preview.png"),
            format!("{stem}.report.json"),
            format!("{stem}_basecolor.png"),
        ],
        "exactly the requested outputs, no temporary files"
    );
    let height: f32 = extra
        .windows(2)
        .find(|w| w[0] == "--height")
        .map(|w| w[1].parse().unwrap())
        .unwrap_or(1.0);

    // PLY: the welded mesh with vertex colors.
    let ply = read_ply(&dir.path().join(format!("{stem}.ply")));
    let topo = assert_closed_manifold(&ply, &format!("{name} PLY"));
    assert_upright_with_height(&ply, height, 1e-3 * height, &format!("{name} PLY"));

    // GLB: the Khronos validator, then the gltf crate: textured (UVs, embedded PNG, PBR
    // factors), no COLOR_0, and the same closed surface once the seams are welded.
    let glb = dir.path().join(format!("{stem}.glb"));
    if let Some(validated) = gltf_validator::assert_valid(&glb) {
        let info = validated.info();
        assert_eq!(info["materialCount"], 1, "{info}");
        assert_eq!(info["hasTextures"], true, "{info}");
    }
    let mesh = read_glb(&glb);
    assert!(
        mesh.colors.is_empty(),
        "COLOR_0 written next to the texture"
    );
    assert_eq!(mesh.uvs.len(), mesh.positions.len(), "TEXCOORD_0 present");
    let material = read_glb_material(&glb);
    let texture = material.texture.expect("a base color texture");
    assert_eq!(texture.dimensions(), (1024, 1024));
    assert_eq!((material.metallic, material.roughness), (0.0, 0.9));
    let welded = weld(&mesh);
    assert_closed_manifold(&welded, &format!("{name} GLB (welded)"));
    assert_eq!(
        (welded.vertex_count(), welded.triangle_count()),
        (ply.vertex_count(), ply.triangle_count())
    );
    assert_upright_with_height(&mesh, height, 1e-3 * height, &format!("{name} GLB"));
    let diff = texture_vs_vertex_colors(&mesh, &texture, &ply);
    assert!(
        diff < 0.05,
        "{name}: texture differs from vertex colors by {diff}"
    );

    // OBJ: the textured mesh, its MTL and PNG beside it, through tobj.
    let obj = read_obj(&dir.path().join(format!("{stem}.obj")));
    let obj_welded = weld(&obj);
    assert_closed_manifold(&obj_welded, &format!("{name} OBJ (welded)"));
    assert_eq!(
        (obj_welded.vertex_count(), obj.triangle_count()),
        (ply.vertex_count(), ply.triangle_count())
    );
    let (_, materials) = tobj::load_obj(
        dir.path().join(format!("{stem}.obj")),
        &tobj::GPU_LOAD_OPTIONS,
    )
    .unwrap();
    let materials = materials.expect("the MTL loads");
    assert_eq!(
        materials[0].diffuse_texture.as_deref(),
        Some(format!("{stem}_basecolor.png").as_str())
    );

    // The report agrees.
    let report = read_report(&dir.path().join(format!("{stem}.report.json")));
    assert_eq!(report["schema_version"], 3);
    assert_eq!(report["command"], "img23d");
    assert_eq!(report["img23d_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["reconstruction"]["name"], "inflate");
    assert_eq!(report["reconstruction"]["kind"], "weight-free");
    assert_eq!(report["mesh"]["closed_manifold"], true);
    assert_eq!(report["mesh"]["triangles"], ply.triangle_count());
    assert_eq!(report["mesh"]["vertices"], ply.vertex_count());
    assert_eq!(report["mesh"]["appearance"], "texture");
    assert_eq!(
        report["mesh"]["euler_characteristic"],
        topo.euler_characteristic()
    );
    assert_eq!(
        report["appearance"]["textured_vertices"],
        mesh.vertex_count()
    );
    let utilisation = report["appearance"]["atlas"]["utilisation"]
        .as_f64()
        .unwrap();
    assert!(
        utilisation >= 0.6,
        "{name}: texel utilisation {utilisation}"
    );
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, STAGES);
    assert_eq!(report["input"]["path"], input.to_str().unwrap());
    assert_eq!(report["outputs"].as_array().unwrap().len(), 6);

    // Seen from the input camera, the asset is the picture.
    let iou = report["fidelity"]["iou"].as_f64().unwrap();
    let psnr = report["fidelity"]["psnr_db"].as_f64().unwrap();
    assert!(iou >= MIN_IOU, "{name}: silhouette IoU {iou}");
    assert!(psnr >= MIN_PSNR_DB, "{name}: color PSNR {psnr} dB");

    // The preview sheet: a 3x3 grid of 384-pixel tiles, each showing the object.
    let preview = image::open(dir.path().join(format!("{stem}.preview.png")))
        .unwrap()
        .to_rgba8();
    assert_eq!(preview.dimensions(), (1152, 1152));
    (dir, ply)
}

#[test]
fn chair_png_with_transparency_at_defaults() {
    let (dir, _) = check_example("chair.png", &[]);
    let report = read_report(&dir.path().join("chair.report.json"));
    assert_eq!(report["foreground"]["method"], "alpha");
    assert_eq!(report["settings"]["resolution"], 256);
    assert_eq!(report["input"]["channels"], "rgba");
}

#[test]
fn vase_png_keyed_from_a_plain_background() {
    let (dir, mesh) = check_example("vase.png", &["--resolution", "160"]);
    let report = read_report(&dir.path().join("vase.report.json"));
    assert_eq!(report["foreground"]["method"], "keyed");
    // The vase is 2.67 times as tall as wide (320 x 450 px in the picture, lip to foot).
    let (min, max) = mesh.bounding_box().unwrap();
    let aspect = (max[0] - min[0]) / (max[1] - min[1]);
    assert!(
        (aspect - 320.0 / 450.0).abs() < 0.03,
        "width/height {aspect}"
    );
    // The front shows the picture: vertices facing the viewer near the middle are blue.
    let front: Vec<[f32; 3]> = mesh
        .positions
        .iter()
        .zip(&mesh.colors)
        .filter(|(p, _)| p[0].abs() < 0.05 && (p[1] - 0.25).abs() < 0.05 && p[2] > 0.0)
        .map(|(_, c)| *c)
        .collect();
    assert!(!front.is_empty());
    for c in front {
        assert!(
            c[2] > c[0] + 0.05 && c[2] > c[1],
            "not the vase's blue: {c:?}"
        );
    }
}

#[test]
fn apple_jpeg_keyed_with_noise_and_vignette() {
    let (dir, _) = check_example("apple.jpg", &["--resolution", "160", "--height", "0.08"]);
    let report = read_report(&dir.path().join("apple.report.json"));
    assert_eq!(report["foreground"]["method"], "keyed");
    assert_eq!(report["input"]["format"], "JPEG");
}

#[test]
fn bottle_jpeg_comes_out_upright_by_its_exif_orientation() {
    let (dir, mesh) = check_example("bottle.jpg", &["--resolution", "160"]);
    let report = read_report(&dir.path().join("bottle.report.json"));
    assert_eq!(report["input"]["orientation"], "rotate 90 clockwise");
    assert_eq!(
        (
            report["input"]["width"].as_u64(),
            report["input"]["height"].as_u64()
        ),
        (Some(300), Some(640))
    );
    let (min, max) = mesh.bounding_box().unwrap();
    let aspect = (max[0] - min[0]) / (max[1] - min[1]);
    assert!(
        aspect < 0.4,
        "the bottle lies on its side: width/height {aspect}"
    );
}

#[test]
fn duck_webp_is_not_mirrored() {
    let (dir, mesh) = check_example("duck.webp", &["--resolution", "160"]);
    let report = read_report(&dir.path().join("duck.report.json"));
    assert_eq!(report["input"]["format"], "WebP");
    // The head is on the left of the picture; seen from +Z (the front) left is -X.
    let top = mesh
        .positions
        .iter()
        .max_by(|a, b| a[1].total_cmp(&b[1]))
        .unwrap();
    let (min, max) = mesh.bounding_box().unwrap();
    assert!(top[0] < 0.5 * (min[0] + max[0]), "head at x = {}", top[0]);
}

#[test]
fn robot_16_bit_png() {
    let (dir, _) = check_example("robot16.png", &["--resolution", "160", "--height", "1.8"]);
    let report = read_report(&dir.path().join("robot16.report.json"));
    assert_eq!(report["input"]["bits_per_channel"], 16);
    assert_eq!(report["foreground"]["method"], "alpha");
}

#[test]
fn no_remove_bg_inflates_the_whole_picture() {
    let dir = tempfile::tempdir().unwrap();
    run_example(
        "vase.png",
        dir.path(),
        &["--no-remove-bg", "--resolution", "96", "--quiet"],
    );
    assert_eq!(glbs_in(dir.path()).len(), 1);
    assert_eq!(validate_glbs_in(dir.path()), validated(1));
    let mesh = read_glb(&dir.path().join("vase.glb"));
    assert_closed_manifold(&weld(&mesh), "vase --no-remove-bg");
    // The whole 480x600 picture is the object.
    let (min, max) = mesh.bounding_box().unwrap();
    let aspect = (max[0] - min[0]) / (max[1] - min[1]);
    assert!((aspect - 0.8).abs() < 0.03, "width/height {aspect}");
    let report = read_report(&dir.path().join("vase.report.json"));
    assert_eq!(report["foreground"]["method"], "whole_picture");
}

#[test]
fn several_pictures_in_one_run_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (example("chair.png"), example("duck.webp"));
    let out = run(&[
        a.as_os_str(),
        b.as_os_str(),
        OsStr::new("-o"),
        dir.path().as_os_str(),
        OsStr::new("--resolution"),
        OsStr::new("64"),
        OsStr::new("-q"),
    ]);
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "--quiet prints nothing"
    );
    assert_eq!(
        files_in(dir.path()),
        [
            "chair.glb",
            "chair.preview.png",
            "chair.report.json",
            "duck.glb",
            "duck.preview.png",
            "duck.report.json"
        ]
    );
    assert_eq!(glbs_in(dir.path()).len(), 2);
    assert_eq!(validate_glbs_in(dir.path()), validated(2));
}

#[test]
fn output_folder_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new").join("deeper");
    run_example("chair.png", &out, &["--resolution", "48"]);
    assert_eq!(
        files_in(&out),
        ["chair.glb", "chair.preview.png", "chair.report.json"]
    );
    assert_eq!(glbs_in(&out).len(), 1);
    assert_eq!(validate_glbs_in(&out), validated(1));
}

#[test]
fn texture_size_zero_keeps_vertex_colors_and_no_preview_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_example(
        "chair.png",
        dir.path(),
        &["--resolution", "96", "--texture-size", "0", "--no-preview"],
    );
    for skipped in ["atlas", "bake", "preview"] {
        assert!(
            !stdout.contains(&format!("chair.png: {skipped} ")),
            "{skipped} ran:\n{stdout}"
        );
    }
    assert_eq!(files_in(dir.path()), ["chair.glb", "chair.report.json"]);
    let glb = dir.path().join("chair.glb");
    gltf_validator::assert_valid(&glb);
    let mesh = read_glb(&glb);
    assert_eq!(mesh.colors.len(), mesh.positions.len(), "COLOR_0 present");
    assert!(mesh.uvs.is_empty(), "no TEXCOORD_0 without a texture");
    assert!(read_glb_material(&glb).texture.is_none());
    assert_closed_manifold(&mesh, "chair --texture-size 0");
    let report = read_report(&dir.path().join("chair.report.json"));
    assert_eq!(report["appearance"]["kind"], "vertex");
    assert_eq!(report["appearance"]["atlas"], serde_json::Value::Null);
    assert_eq!(report["appearance"]["preview"], serde_json::Value::Null);
    // The fidelity check runs on every path.
    assert!(report["fidelity"]["iou"].as_f64().unwrap() >= MIN_IOU);
}

#[test]
fn material_settings_and_vertex_colors_next_to_the_texture() {
    let dir = tempfile::tempdir().unwrap();
    run_example(
        "duck.webp",
        dir.path(),
        &[
            "--resolution",
            "96",
            "--texture-size",
            "256",
            "--metallic",
            "0.25",
            "--roughness",
            "0.5",
            "--keep-vertex-colors",
            "-q",
        ],
    );
    let glb = dir.path().join("duck.glb");
    gltf_validator::assert_valid(&glb);
    let mesh = read_glb(&glb);
    assert_eq!(mesh.colors.len(), mesh.positions.len(), "COLOR_0 kept");
    assert_eq!(mesh.uvs.len(), mesh.positions.len());
    let material = read_glb_material(&glb);
    assert_eq!(material.texture.map(|t| t.dimensions()), Some((256, 256)));
    assert_eq!((material.metallic, material.roughness), (0.25, 0.5));
    let report = read_report(&dir.path().join("duck.report.json"));
    assert_eq!(report["appearance"]["texture_size"], 256);
    assert_eq!(report["appearance"]["glb_vertex_colors"], true);
}

/// Every picture in examples/ has a test above (so a new example gets one).
#[test]
fn every_example_is_tested() {
    let mut found: Vec<String> = files_in(&root().join("examples"))
        .into_iter()
        .filter(|n| {
            [".png", ".jpg", ".webp", ".bmp", ".tif", ".tiff"]
                .iter()
                .any(|e| n.ends_with(e))
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

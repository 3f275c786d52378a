//! `img23d depth` end to end: the real binary on pictures the tests draw, through the tiny
//! Depth Pro models of `models/tests/data/` (`tools/gen_test_models.py`, "Depth Pro scene
//! pair": brighter pixels are nearer; a black picture is 4.828427 m away everywhere).
//! Every output is read back by a second reader: numpy for `.npy` (python3 with numpy),
//! `image` for the PNGs, `ply-rs-bw` for the point cloud, `gltf` and the Khronos glTF
//! validator for the relief mesh. Needs the ONNX Runtime library
//! (`python3 -m pip install onnxruntime==1.31.1`).

use crate::gltf_validator;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{ImageEncoder, Rgb, RgbImage};
use img23d_meshing::Mesh;
use img23d_meshing::topology::analyze;
use serde_json::Value;

/// Depth of the black picture: 1 / (2 tan(22.5 deg) 0.25) m.
const BLACK_DEPTH: f32 = 4.828_427;
/// Depth of a white picture: 1 / (2 tan(32.5 deg) 0.75) m (fov 65 deg for a white picture).
const WHITE_DEPTH: f32 = 1.046_457;

pub(crate) fn model(layout: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/tests/data")
        .join(format!("depth_pro_scene_{layout}.onnx"))
}

/// `img23d depth` on the CPU with `models` as its models folder; the caller adds the rest.
pub(crate) fn depth_command(models: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_img23d"));
    c.arg("depth")
        .arg("--models-dir")
        .arg(models)
        .arg("--device")
        .arg("cpu")
        .env_remove("IMG23D_MODELS");
    c
}

fn img23d_depth(models: &Path, args: &[&str]) -> Output {
    depth_command(models).args(args).output().unwrap()
}

/// Runs `img23d depth` with the canonical scene model (or `layout`) on `photos`, into `out`.
fn run(layout: &str, photos: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let models = tempfile::tempdir().unwrap();
    let m = model(layout);
    let mut args: Vec<&str> = photos.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(["-o", out.to_str().unwrap(), "--model", m.to_str().unwrap()]);
    args.extend_from_slice(extra);
    img23d_depth(models.path(), &args)
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "img23d depth failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A dark wall with a white box in the middle third.
pub(crate) fn box_scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |u, v| {
        let inside = (w / 3..2 * w / 3).contains(&u) && (h / 3..2 * h / 3).contains(&v);
        if inside {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

fn save_png(img: &RgbImage, path: &Path) {
    img.save(path).unwrap();
}

/// A JPEG with an EXIF block carrying `FocalLengthIn35mmFilm` = `f35` (none when 0).
fn save_jpeg_with_exif(img: &RgbImage, f35: u16, path: &Path) {
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
    if f35 > 0 {
        enc.set_exif_metadata(img23d_models::depth_pro::exif::exif_block_with_focal_35mm(
            f35, true,
        ))
        .unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = img23d_meshing::npy::read_npy(path).unwrap();
    (a.shape, a.data)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// numpy's view of a `.npy`: `shape dtype min max` as numpy prints them.
fn numpy_header(path: &Path) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, numpy as np; a = np.load(sys.argv[1]); \
             print(a.shape, a.dtype, a.flags['C_CONTIGUOUS'], float(a.min()), float(a.max()))",
        )
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "numpy could not load {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The point cloud through `ply-rs-bw`: positions and colors.
fn read_ply(path: &Path) -> (Vec<[f32; 3]>, Vec<[u8; 3]>) {
    use ply_rs_bw::ply::Property;
    let mut f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let ply = ply_rs_bw::parser::Parser::<ply_rs_bw::ply::DefaultElement>::new()
        .read_ply(&mut f)
        .unwrap();
    let vertex = &ply.header.elements["vertex"];
    let names: Vec<&String> = vertex.properties.keys().collect();
    assert_eq!(names, ["x", "y", "z", "red", "green", "blue"]);
    let mut pos = Vec::new();
    let mut col = Vec::new();
    for e in &ply.payload["vertex"] {
        let f = |k: &str| match e[k] {
            Property::Float(v) => v,
            ref other => panic!("{k} is {other:?}, expected float"),
        };
        let u = |k: &str| match e[k] {
            Property::UChar(v) => v,
            ref other => panic!("{k} is {other:?}, expected uchar"),
        };
        pos.push([f("x"), f("y"), f("z")]);
        col.push([u("red"), u("green"), u("blue")]);
    }
    (pos, col)
}

/// The relief mesh through the `gltf` crate: the mesh (positions, UVs, triangles) and
/// whether the material has a texture.
fn read_glb(path: &Path) -> (Mesh, bool, bool) {
    let (doc, buffers, images) = gltf::import(path).unwrap();
    let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
    let reader = prim.reader(|b| Some(&buffers[b.index()].0[..]));
    let positions: Vec<[f32; 3]> = reader.read_positions().unwrap().collect();
    let uvs: Vec<[f32; 2]> = reader.read_tex_coords(0).unwrap().into_f32().collect();
    let idx: Vec<u32> = reader.read_indices().unwrap().into_u32().collect();
    let triangles = idx.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
    let material = prim.material();
    let textured = material
        .pbr_metallic_roughness()
        .base_color_texture()
        .is_some()
        && images.len() == 1;
    let mesh = Mesh {
        positions,
        uvs,
        triangles,
        ..Mesh::default()
    };
    (mesh, textured, material.double_sided())
}

#[test]
fn every_output_is_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("room.png");
    let (w, h) = (120u32, 90u32);
    let img = box_scene(w, h);
    save_png(&img, &photo);
    let out = dir.path().join("out");
    let o = run("canonical", &[&photo], &out, &[]);
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("room.png: done in"), "{stdout}");

    // .npy: numpy reads float32 (H, W), C order; same values as our reader.
    let npy = out.join("room.depth.npy");
    let header = numpy_header(&npy);
    assert!(header.starts_with("(90, 120) float32 True"), "{header}");
    let (shape, depth) = read_npy(&npy);
    assert_eq!(shape, [90, 120]);
    let at = |u: u32, v: u32| depth[(v * w + u) as usize];
    // The tiny model's fov is 55 + 10 * mean(input): a ninth of the picture is white.
    let j = read_json(&out.join("room.report.json"));
    let net_fov = j["network_fov_deg"].as_f64().unwrap() as f32;
    assert!(
        (net_fov - (55.0 + 10.0 * (-1.0 + 2.0 / 9.0))).abs() < 0.05,
        "{net_fov}"
    );
    let t = (0.5 * net_fov).to_radians().tan();
    let (wall, near) = (1.0 / (2.0 * t * 0.25), 1.0 / (2.0 * t * 0.75));
    assert!(
        (at(0, 0) - wall).abs() < 1e-4 * wall,
        "wall {} vs {wall}",
        at(0, 0)
    );
    assert!(
        (at(w / 2, h / 2) - near).abs() < 1e-4 * near,
        "box {}",
        at(w / 2, h / 2)
    );

    // 16-bit PNG in millimeters.
    let png = image::open(out.join("room.depth.png")).unwrap();
    assert_eq!(png.color(), image::ColorType::L16);
    let png = png.into_luma16();
    for (mm, d) in png.as_raw().iter().zip(&depth) {
        assert_eq!(*mm, (d * 1000.0).round() as u16);
    }

    // Preview: an RGB picture at least as wide as the photo, with a legend below.
    let preview = image::open(out.join("room.depth-preview.png"))
        .unwrap()
        .into_rgb8();
    assert!(preview.width() >= w && preview.height() > preview.width() * h / w);

    // JSON: focal, fov and depth statistics agree with the depth map.
    let f = j["focal_length_px"].as_f64().unwrap() as f32;
    let fov = j["horizontal_fov_deg"].as_f64().unwrap() as f32;
    assert!(((2.0 * (60.0 / f).atan()).to_degrees() - fov).abs() < 1e-3);
    assert_eq!(j["focal_source"], "network");
    assert_eq!(j["model"]["semantics"], "canonical_inverse_depth");
    let min = depth.iter().copied().fold(f32::INFINITY, f32::min);
    let max = depth.iter().copied().fold(0.0, f32::max);
    assert_eq!(j["depth_m"]["min"].as_f64().unwrap() as f32, min);
    assert_eq!(j["depth_m"]["max"].as_f64().unwrap() as f32, max);
    let median = j["depth_m"]["median"].as_f64().unwrap() as f32;
    assert!((median - wall).abs() < 1e-4 * wall, "mostly wall: {median}");
    assert_eq!(j["intrinsics"]["cx"], 60.0);
    assert_eq!(j["intrinsics"]["cy"], 45.0);
    // Every file but the report itself, each with its size on disk.
    let outputs = j["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 5);
    for f in outputs {
        let path = Path::new(f["path"].as_str().unwrap());
        assert_eq!(f["bytes"], std::fs::metadata(path).unwrap().len(), "{f}");
    }

    // Point cloud: one point per pixel (stride auto = 1 here), colored like the photo,
    // at the depth map's depth along -Z, pixel centres at u + 0.5.
    let (pos, col) = read_ply(&out.join("room.ply"));
    assert_eq!(pos.len(), (w * h) as usize);
    assert_eq!(j["point_cloud"]["points"], w * h);
    for (k, (p, c)) in pos.iter().zip(&col).enumerate() {
        let (u, v) = (k as u32 % w, k as u32 / w);
        assert_eq!(*c, img.get_pixel(u, v).0);
        let z = at(u, v);
        assert!((p[2] + z).abs() < 1e-5 * z);
        let x = (u as f32 + 0.5 - 60.0) * z / f;
        let y = -(v as f32 + 0.5 - 45.0) * z / f;
        assert!((p[0] - x).abs() < 1e-4 && (p[1] - y).abs() < 1e-4, "{p:?}");
    }

    // Relief mesh: valid in the Khronos validator, textured, double sided; the box comes
    // apart from the wall.
    let glb = out.join("room.glb");
    if let Some(report) = gltf_validator::assert_valid(&glb) {
        assert_eq!(report.info()["hasTextures"], true);
    }
    let (mesh, textured, double_sided) = read_glb(&glb);
    mesh.validate().unwrap();
    assert!(textured && double_sided);
    let topo = analyze(&mesh);
    assert!(topo.components >= 2, "box and wall apart: {topo:?}");
    assert_eq!(topo.misoriented_edges + topo.nonmanifold_edges, 0);
    // Every triangle faces the camera (counter-clockwise seen from the origin).
    for t in &mesh.triangles {
        let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
        let n = [
            (b[1] - a[1]) * (c[2] - a[2]) - (b[2] - a[2]) * (c[1] - a[1]),
            (b[2] - a[2]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[2] - a[2]),
            (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]),
        ];
        assert!(n[0] * a[0] + n[1] * a[1] + n[2] * a[2] < 0.0);
    }
    assert!(
        mesh.uvs
            .iter()
            .all(|uv| (0.0..=1.0).contains(&uv[0]) && (0.0..=1.0).contains(&uv[1]))
    );
    // Nothing else in the folder (no temporary files left).
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 6);
}

#[test]
fn both_layouts_write_the_same_depth() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("scene.png");
    save_png(&box_scene(200, 150), &photo);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&run(
        "canonical",
        &[&photo],
        &a,
        &["--outputs", "npy,report", "--threads", "2"],
    ));
    ok(&run("metric", &[&photo], &b, &["--outputs", "npy,report"]));
    let (_, da) = read_npy(&a.join("scene.depth.npy"));
    let (_, db) = read_npy(&b.join("scene.depth.npy"));
    for (x, y) in da.iter().zip(&db) {
        assert!((x - y).abs() <= 1e-5 * x, "{x} vs {y}");
    }
    let ja = read_json(&a.join("scene.report.json"));
    let jb = read_json(&b.join("scene.report.json"));
    assert_eq!(jb["model"]["semantics"], "metric_depth");
    // --threads reaches the session; without it ONNX Runtime chooses (0).
    assert_eq!(ja["model"]["intra_op_threads"], 2);
    assert_eq!(jb["model"]["intra_op_threads"], 0);
    assert_eq!(ja["command"], "img23d depth");
    assert_eq!(ja["schema_version"], 3);
    let (fa, fb) = (
        ja["focal_length_px"].as_f64().unwrap(),
        jb["focal_length_px"].as_f64().unwrap(),
    );
    assert!((fa - fb).abs() < 1e-3 * fa);
    // Only the files asked for.
    assert_eq!(std::fs::read_dir(&a).unwrap().count(), 2);
}

#[test]
fn exif_focal_and_focal_flag_rescale_depth() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (160u32, 120u32);
    let black = RgbImage::new(w, h);
    let photo = dir.path().join("phone.jpg");
    save_jpeg_with_exif(&black, 26, &photo);

    let est = dir.path().join("est");
    ok(&run("canonical", &[&photo], &est, &["--no-exif-focal"]));
    let exif = dir.path().join("exif");
    ok(&run("canonical", &[&photo], &exif, &[]));
    let flag = dir.path().join("flag");
    ok(&run("canonical", &[&photo], &flag, &["--focal-px", "500"]));

    let je = read_json(&est.join("phone.report.json"));
    let jx = read_json(&exif.join("phone.report.json"));
    let jf = read_json(&flag.join("phone.report.json"));
    assert_eq!(je["focal_source"], "network");
    assert_eq!(jx["focal_source"], "exif");
    assert_eq!(jx["exif_focal_length_35mm"], 26.0);
    assert_eq!(jf["focal_source"], "user");
    // 26 mm on a 160x120 picture: 26 * 200 / 43.2666 px.
    let f_exif = jx["focal_length_px"].as_f64().unwrap();
    assert!(
        (f_exif - 26.0 * 200.0 / 43.266_615).abs() < 1e-2,
        "{f_exif}"
    );
    let f_est = je["focal_length_px"].as_f64().unwrap();
    let (_, de) = read_npy(&est.join("phone.depth.npy"));
    let (_, dx) = read_npy(&exif.join("phone.depth.npy"));
    let (_, df) = read_npy(&flag.join("phone.depth.npy"));
    // depth_known = depth_estimated * f_known / f_estimated.
    assert!((de[0] - BLACK_DEPTH).abs() < 1e-3, "{}", de[0]);
    assert!((dx[0] as f64 / de[0] as f64 - f_exif / f_est).abs() < 1e-4);
    assert!((df[0] as f64 / de[0] as f64 - 500.0 / f_est).abs() < 1e-4);
}

#[test]
fn non_square_tiny_and_very_wide_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, u32, u32); 4] = [
        ("tiny", 8, 8),
        ("wide", 3000, 60),
        ("tall", 90, 300),
        ("white", 33, 17),
    ];
    let mut photos = Vec::new();
    for (name, w, h) in cases {
        let p = dir.path().join(format!("{name}.png"));
        let img = if name == "white" {
            RgbImage::from_pixel(w, h, Rgb([255, 255, 255]))
        } else {
            box_scene(w, h)
        };
        save_png(&img, &p);
        photos.push(p);
    }
    let out = dir.path().join("out");
    let refs: Vec<&Path> = photos.iter().map(PathBuf::as_path).collect();
    ok(&run("metric", &refs, &out, &[]));
    for (name, w, h) in cases {
        let (shape, depth) = read_npy(&out.join(format!("{name}.depth.npy")));
        assert_eq!(shape, [h as usize, w as usize], "{name}");
        assert!(depth.iter().all(|d| d.is_finite() && *d > 0.0), "{name}");
        if name == "white" {
            assert!((depth[0] - WHITE_DEPTH).abs() < 1e-4, "{}", depth[0]);
        }
        let glb = out.join(format!("{name}.glb"));
        gltf_validator::assert_valid(&glb);
        let (mesh, _, _) = read_glb(&glb);
        mesh.validate().unwrap();
        let (pos, _) = read_ply(&out.join(format!("{name}.ply")));
        let j = read_json(&out.join(format!("{name}.report.json")));
        assert_eq!(j["point_cloud"]["points"], pos.len());
        assert_eq!(
            (j["width"].as_u64(), j["height"].as_u64()),
            (Some(w.into()), Some(h.into()))
        );
    }
    // The very wide picture is thinned automatically (3000 px > 1536 samples).
    let j = read_json(&out.join("wide.report.json"));
    assert_eq!(j["point_cloud"]["stride"], 2);
    assert_eq!(j["relief_mesh"]["stride"], 3);
}

#[test]
fn max_depth_and_stride_thin_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("s.png");
    save_png(&box_scene(60, 60), &photo);
    let out = dir.path().join("out");
    // The wall is 4.83 m away, the box nearer: a 3 m cut keeps the box only.
    ok(&run(
        "canonical",
        &[&photo],
        &out,
        &[
            "--outputs",
            "ply,report",
            "--max-depth",
            "3",
            "--stride",
            "2",
        ],
    ));
    let (pos, _) = read_ply(&out.join("s.ply"));
    assert!(!pos.is_empty() && pos.len() < 30 * 30 / 4, "{}", pos.len());
    assert!(pos.iter().all(|p| -p[2] <= 3.0));
}

// ---------------------------------------------------------------- bad input

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header claims `w` x `h` pixels (with a valid IHDR CRC) but carries a tiny
/// image's data.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&[0u8; 12], 2, 2, image::ExtendedColorType::Rgb8)
        .unwrap();
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Runs on one bad photo: exit code non-zero, one line on stderr naming the file, no
/// panic, and nothing left in the output folder.
fn refuses(name: &str, contents: Option<&[u8]>, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join(name);
    if let Some(c) = contents {
        std::fs::write(&photo, c).unwrap();
    }
    let out = dir.path().join("out");
    let o = run("canonical", &[&photo], &out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{name}: {stderr}");
    assert!(lines[0].contains(name), "{name}: {stderr}");
    assert!(
        lines[0].to_lowercase().contains(expect),
        "{name}: expected '{expect}' in {stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert!(
        left.iter().all(|&n| n == 0),
        "{name}: files left in {}",
        out.display()
    );
}

#[test]
fn bad_photos_are_refused_cleanly() {
    let mut good = Vec::new();
    image::codecs::png::PngEncoder::new(&mut good)
        .write_image(&[9u8; 3 * 64 * 64], 64, 64, image::ExtendedColorType::Rgb8)
        .unwrap();
    refuses("missing.png", None, "cannot read");
    refuses("empty.png", Some(b""), "empty");
    refuses(
        "notes.png",
        Some(b"this is not a picture at all"),
        "not a supported image",
    );
    refuses("cut.png", Some(&good[..good.len() / 2]), "decode");
    refuses("huge.png", Some(&png_claiming(40_000, 40_000)), "40000");
}

#[test]
fn unwritable_output_folder_and_one_bad_photo_among_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    save_png(&box_scene(40, 30), &good);
    // The output "folder" is under a regular file: it cannot be created.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = run("canonical", &[&good], &file.join("out"), &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("output folder") && stderr.contains("file/out"),
        "{stderr}"
    );

    // One bad photo among good ones: the good ones are written, the bad one leaves nothing.
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"garbage").unwrap();
    let other = dir.path().join("other.jpg");
    save_jpeg_with_exif(&box_scene(50, 20), 0, &other);
    let out = dir.path().join("out");
    let o = run("canonical", &[&good, &bad, &other], &out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.png") && stderr.contains("1 of 3 inputs failed"),
        "{stderr}"
    );
    let names: std::collections::BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with("bad")), "{names:?}");
    assert_eq!(crate::util::glbs_in(&out).len(), 2);
    assert_eq!(
        crate::util::validate_glbs_in(&out),
        crate::util::validated(2)
    );
}

#[test]
fn wrong_or_missing_model_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    save_png(&box_scene(16, 16), &photo);
    let out = dir.path().join("out");
    let models = tempfile::tempdir().unwrap();
    // A model with another signature: the error lists both layouts.
    let wrong =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/data/triposr_encoder.onnx");
    let o = img23d_depth(
        models.path(),
        &[
            photo.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--model",
            wrong.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Depth Pro (metric") && stderr.contains("Depth Pro (canonical"),
        "{stderr}"
    );
    // No model installed, offline: says how to get one.
    let o = img23d_depth(
        models.path(),
        &[
            photo.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--offline",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("img23d models fetch depth-pro"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    // Bad flags exit with 2.
    let o = run("canonical", &[&photo], &out, &["--focal-px=-3"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid --focal-px"), "{stderr}");
    let o = run("canonical", &[&photo], &out, &["--stride", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

//! Real viewers: a textured GLB from the library, loaded by three.js's GLTFLoader in
//! headless Chromium (`tests/viewers/threejs_view.mjs`), must show the object where our
//! own renderer draws it from the same camera (silhouette IoU), upright (the top of the
//! object, colored blue, above its red bottom) and textured.
//!
//! Needs `node` and `chromium` (Debian package); without them the test says SKIPPED,
//! unless `CI` is set, where it fails. `npm ci` runs in `tests/viewers` when three.js is
//! not installed yet.

use std::path::{Path, PathBuf};
use std::process::Command;

use img23d_meshing::atlas::{AtlasOptions, build_atlas};
use img23d_meshing::bake::{BakeOptions, bake_texture};
use img23d_meshing::export::{GlbOptions, write_glb};
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_meshing::render::{Camera, RenderOptions, Shading, render};
use img23d_meshing::{Asset, Bounds, Field, FieldError, Inside, Material, Surface};

use crate::gltf_validator;

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

#[test]
fn threejs_gltfloader_shows_the_textured_asset_upright() {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
    if !tool_available("node", "--version") || !tool_available(&browser, "--version") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but node or {browser} is missing: the three.js viewer test cannot run"
        );
        eprintln!("SKIPPED three.js viewer test: needs `node` and `{browser}` on PATH");
        return;
    }
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
    let shot = tmp.path().join("three.png");
    let fmt = |v: [f32; 3]| format!("{},{},{}", v[0], v[1], v[2]);
    let out = Command::new("node")
        .arg(dir.join("threejs_view.mjs"))
        .arg(&glb)
        .arg(&shot)
        .arg(fmt(camera.eye))
        .arg(fmt(camera.target))
        .arg("40")
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
    let three = image::open(&shot).unwrap().to_rgba8();
    assert_eq!(three.dimensions(), (size, size));

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

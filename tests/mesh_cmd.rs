//! End-to-end tests of `img23d mesh`: analytic volumes written as .npy, meshed by the
//! binary, read back with independent GLB (gltf), PLY (ply-rs-bw) and OBJ (tobj) readers
//! and checked for closedness; every bad .npy case of the issue gives a clear error and a
//! non-zero exit without leaving an output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use img23d_meshing::Mesh;
use img23d_meshing::npy::write_npy_f32;
use img23d_meshing::topology::analyze;

fn img23d(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_img23d"))
        .args(args)
        .output()
        .expect("the img23d binary runs")
}

/// A torus SDF (major 0.5, minor 0.2 around Y) sampled on `n`^3 points over [-1, 1]^3,
/// shape (nz, ny, nx).
fn torus(n: usize) -> Vec<f32> {
    let c = |i: usize| -1.0 + 2.0 * i as f32 / (n - 1) as f32;
    let mut v = Vec::with_capacity(n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let (x, y, z) = (c(i), c(j), c(k));
                let q = (x * x + z * z).sqrt() - 0.5;
                v.push((q * q + y * y).sqrt() - 0.2);
            }
        }
    }
    v
}

fn write_torus(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("torus.npy");
    write_npy_f32(&p, &[n, n, n], &torus(n)).unwrap();
    p
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn assert_closed_torus(mesh: &Mesh) {
    mesh.validate().unwrap();
    let r = analyze(mesh);
    assert!(r.is_closed_manifold(), "{r:?}");
    assert_eq!(r.euler_characteristic(), 0);
    assert!(mesh.signed_volume() > 0.0);
}

#[test]
fn glb_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let vol = write_torus(dir.path(), 48);
    let out = dir.path().join("out/torus.glb");
    let o = img23d(&[
        "mesh",
        vol.to_str().unwrap(),
        "--iso",
        "0",
        "--inside",
        "below",
        "-o",
        out.to_str().unwrap(),
        "--timings",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for name in ["load_ms=", "mc_ms=", "write_ms=", "total_ms="] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} in {stdout}"
        );
    }
    crate::gltf_validator::assert_valid(&out);
    let (doc, buffers, _) = gltf::import(&out).unwrap();
    let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
    let reader = prim.reader(|b| Some(&buffers[b.index()]));
    let positions: Vec<[f32; 3]> = reader.read_positions().unwrap().collect();
    let indices: Vec<u32> = reader.read_indices().unwrap().into_u32().collect();
    let mesh = Mesh::from_triangles(
        positions,
        indices
            .chunks_exact(3)
            .map(|t| [t[0], t[1], t[2]])
            .collect(),
    );
    assert_closed_torus(&mesh);
    let rep = report(&dir.path().join("out/torus.report.json"));
    assert_eq!(rep["mesh"]["triangles"], mesh.triangle_count());
    assert_eq!(rep["mesh"]["closed_manifold"], true);
    let mc_ms = rep["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "mc")
        .and_then(|s| s["ms"].as_f64())
        .expect("the mc stage's time");
    assert!(mc_ms <= rep["total_ms"].as_f64().unwrap());
}

#[test]
fn ply_round_trip_with_density_convention_and_bounds() {
    use ply_rs_bw::parser::Parser;
    use ply_rs_bw::ply::{DefaultElement, Property};
    let dir = tempfile::tempdir().unwrap();
    // A density: 10 - sdf, inside above 10, over a box of half-size 2.
    let n = 40;
    let density: Vec<f32> = torus(n).iter().map(|v| 10.0 - v).collect();
    let vol = dir.path().join("density.npy");
    write_npy_f32(&vol, &[n, n, n], &density).unwrap();
    let out = dir.path().join("d.ply");
    let o = img23d(&[
        "mesh",
        vol.to_str().unwrap(),
        "--iso",
        "10",
        "--bounds",
        "-2,-2,-2,2,2,2",
        "-o",
        out.to_str().unwrap(),
        "--report",
        dir.path().join("r.json").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut f = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
    let ply = Parser::<DefaultElement>::new().read_ply(&mut f).unwrap();
    let float = |e: &DefaultElement, k: &str| match e.get(k) {
        Some(Property::Float(v)) => *v,
        other => panic!("{k}: {other:?}"),
    };
    let positions: Vec<[f32; 3]> = ply.payload["vertex"]
        .iter()
        .map(|e| [float(e, "x"), float(e, "y"), float(e, "z")])
        .collect();
    let triangles: Vec<[u32; 3]> = ply.payload["face"]
        .iter()
        .map(|e| match e.get("vertex_indices") {
            Some(Property::ListUInt(l)) => [l[0], l[1], l[2]],
            other => panic!("{other:?}"),
        })
        .collect();
    let mesh = Mesh::from_triangles(positions, triangles);
    assert_closed_torus(&mesh);
    // Bounds scale the torus by 2: its outer radius is 1.4.
    let (lo, hi) = mesh.bounding_box().unwrap();
    assert!(
        (hi[0] - 1.4).abs() < 0.05 && (lo[0] + 1.4).abs() < 0.05,
        "{lo:?} {hi:?}"
    );
    assert!(report(&dir.path().join("r.json"))["mesh"]["vertices"] == mesh.vertex_count());
}

#[test]
fn obj_round_trip_with_cleanup_and_simplification() {
    let dir = tempfile::tempdir().unwrap();
    // The torus plus a small floating sphere.
    let n = 48;
    let c = |i: usize| -1.0 + 2.0 * i as f32 / (n - 1) as f32;
    let mut vol = torus(n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let s = ((c(i) - 0.75).powi(2) + (c(j) - 0.7).powi(2) + (c(k) - 0.7).powi(2))
                    .sqrt()
                    - 0.1;
                let v = &mut vol[i + n * (j + n * k)];
                *v = v.min(s);
            }
        }
    }
    let p = dir.path().join("two.npy");
    write_npy_f32(&p, &[n, n, n], &vol).unwrap();
    let out = dir.path().join("two.obj");
    let o = img23d(&[
        "mesh",
        p.to_str().unwrap(),
        "--iso",
        "0",
        "--inside",
        "below",
        "--keep-components",
        "largest",
        "--smooth",
        "3",
        "--faces",
        "2000",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (models, _) = tobj::load_obj(&out, &tobj::GPU_LOAD_OPTIONS).unwrap();
    assert_eq!(models.len(), 1);
    let m = &models[0].mesh;
    let mesh = Mesh::from_triangles(
        m.positions
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect(),
        m.indices
            .chunks_exact(3)
            .map(|t| [t[0], t[1], t[2]])
            .collect(),
    );
    assert_closed_torus(&mesh);
    assert_eq!(analyze(&mesh).components, 1, "the floater is gone");
    let t = mesh.triangle_count();
    assert!((1900..=2000).contains(&t), "{t} triangles for --faces 2000");
}

/// Writes a .npy with a hand-made header (format 1.0) and `data` bytes.
fn raw_npy(path: &Path, magic: &[u8], descr: &str, fortran: bool, shape: &str, data: &[u8]) {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(b"\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn float64_volumes_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let n = 24;
    let data: Vec<u8> = torus(n)
        .iter()
        .flat_map(|&x| f64::from(x).to_le_bytes())
        .collect();
    let p = dir.path().join("t64.npy");
    raw_npy(
        &p,
        b"\x93NUMPY",
        "<f8",
        false,
        &format!("({n}, {n}, {n})"),
        &data,
    );
    let out = dir.path().join("t.ply");
    let o = img23d(&[
        "mesh",
        p.to_str().unwrap(),
        "--iso",
        "0",
        "--inside",
        "below",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bad_npy_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let n = 8;
    let good = f32_bytes(&torus(n));
    let shape = format!("({n}, {n}, {n})");
    let mut nan = torus(n);
    nan[100] = f32::NAN;
    type Case<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "magic",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPX", "<f4", false, &shape, &good)),
            "not a .npy file",
        ),
        (
            "fortran",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPY", "<f4", true, &shape, &good)),
            "Fortran order",
        ),
        (
            "dtype",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPY", "<i4", false, &shape, &good)),
            "unsupported dtype <i4",
        ),
        (
            "truncated",
            Box::new(|p: &Path| {
                raw_npy(
                    p,
                    b"\x93NUMPY",
                    "<f4",
                    false,
                    &shape,
                    &good[..good.len() - 40],
                )
            }),
            "truncated data",
        ),
        (
            "shape-mismatch",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPY", "<f4", false, "(8, 8, 7)", &good)),
            "the shape [8, 8, 7] needs 1792 bytes of data",
        ),
        (
            "two-dimensional",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPY", "<f4", false, "(64, 8)", &good)),
            "expected a 3-D array",
        ),
        (
            "nan",
            Box::new(|p: &Path| raw_npy(p, b"\x93NUMPY", "<f4", false, &shape, &f32_bytes(&nan))),
            "volume value at index 100 is not a number",
        ),
        (
            "no-surface",
            Box::new(|p: &Path| {
                raw_npy(
                    p,
                    b"\x93NUMPY",
                    "<f4",
                    false,
                    &shape,
                    &f32_bytes(&vec![1.0; 512]),
                )
            }),
            "no surface",
        ),
    ];
    for (name, make, message) in cases {
        let p = dir.path().join(format!("{name}.npy"));
        make(&p);
        let out = dir.path().join(format!("{name}.glb"));
        let o = img23d(&[
            "mesh",
            p.to_str().unwrap(),
            "--iso",
            "0",
            "-o",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(
            stderr.contains(p.to_str().unwrap()),
            "{name} names the file: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: no output");
    }
    let o = img23d(&["mesh", "/nonexistent/x.npy", "--iso", "0", "-o", "x.glb"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.npy"));
}

#!/usr/bin/env python3
"""Marching cubes, side by side: img23d against PyMCubes, scikit-image (Lewiner) and
VTK's vtkFlyingEdges3D on the same volumes, in one run.

    pip install PyMCubes scikit-image vtk scipy
    cargo build --release
    python3 benches/peers/peers.py [--sizes 256,384] [--repeats 5] [--out table.md]

The volumes are generated here (float32, shape (n, n, n) over [-1, 1]^3, x fastest) into
a temporary folder and are not committed:

* ``smooth-sdf``  a rippled sphere, signed distance (inside below 0);
* ``gyroid``      a gyroid of 4 periods clipped to a ball of radius 0.9 (many handles,
                  inside below 0);
* ``noisy-blobs`` a density of 300 Gaussian blobs with a multiplicative ripple (inside
                  above 0.5).

Timed: only the marching-cubes call. PyMCubes, scikit-image and VTK are timed around
their call in this process (VTK: ``Update()`` with normals, gradients and scalars off,
its fastest setting); img23d is run as ``img23d mesh --timings`` and its ``mc_ms`` line
is taken (classification + meshing, no file I/O). Each is run ``--repeats`` times and
the median is reported. Chamfer: symmetric mean nearest-vertex distance between each
mesh and scikit-image's, divided by the diagonal of scikit-image's mesh bounding box.
Closed: every edge in exactly two triangles, as returned by each library.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- volumes

def coords(n):
    x = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    z, y, xx = np.meshgrid(x, x, x, indexing="ij")  # (nz, ny, nx): x fastest
    return xx, y, z


def smooth_sdf(n):
    x, y, z = coords(n)
    r = np.sqrt(x * x + y * y + z * z)
    return (r - 0.6 - 0.05 * np.sin(5 * x) * np.sin(5 * y) * np.sin(5 * z)).astype(np.float32)


def gyroid(n):
    x, y, z = coords(n)
    f = np.float32(4 * np.pi)
    g = np.sin(f * x) * np.cos(f * y) + np.sin(f * y) * np.cos(f * z) + np.sin(f * z) * np.cos(f * x)
    r = np.sqrt(x * x + y * y + z * z)
    return np.maximum(g / f, r - 0.9).astype(np.float32)


def noisy_blobs(n, count=300, seed=1):
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    h = 2.0 / (n - 1)
    d = np.zeros((n, n, n), dtype=np.float32)
    for _ in range(count):
        c = rng.uniform(-0.75, 0.75, 3).astype(np.float32)
        s = np.float32(rng.uniform(0.03, 0.07))
        lo = np.clip(((c - 4 * s + 1) / h).astype(int), 0, n - 1)
        hi = np.clip(((c + 4 * s + 1) / h).astype(int) + 2, 0, n)
        gx, gy, gz = grid[lo[0]:hi[0]], grid[lo[1]:hi[1]], grid[lo[2]:hi[2]]
        q = ((gz[:, None, None] - c[2]) ** 2 + (gy[None, :, None] - c[1]) ** 2
             + (gx[None, None, :] - c[0]) ** 2) / (s * s)
        d[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] += np.exp(-0.5 * q)
    x, y, z = coords(n)
    ripple = 0.05 * np.sin(40 * x) * np.sin(37 * y) * np.sin(43 * z)
    return (d * (1 + ripple)).astype(np.float32)


VOLUMES = [
    # name, generator, iso, inside
    ("smooth-sdf", smooth_sdf, 0.0, "below"),
    ("gyroid", gyroid, 0.0, "below"),
    ("noisy-blobs", noisy_blobs, 0.5, "above"),
]


# ---------------------------------------------------------------- peers

def to_world(verts_index_zyx, n):
    """Index coordinates (axis0=z, axis1=y, axis2=x) to world (x, y, z) in [-1, 1]."""
    v = np.asarray(verts_index_zyx, dtype=np.float64)[:, ::-1]
    return -1.0 + 2.0 * v / (n - 1)


def run_pymcubes(vol, iso):
    import mcubes
    t = time.perf_counter()
    v, f = mcubes.marching_cubes(vol, iso)
    return time.perf_counter() - t, v, f


def run_skimage(vol, iso):
    from skimage import measure
    t = time.perf_counter()
    v, f, _, _ = measure.marching_cubes(vol, level=iso, method="lewiner")
    return time.perf_counter() - t, v, f


def vtk_image(vol):
    import vtk
    from vtk.util import numpy_support
    n = vol.shape
    img = vtk.vtkImageData()
    img.SetDimensions(n[2], n[1], n[0])
    img.SetSpacing(1.0, 1.0, 1.0)
    img.SetOrigin(0.0, 0.0, 0.0)
    arr = numpy_support.numpy_to_vtk(vol.ravel(order="C"), deep=False)
    img.GetPointData().SetScalars(arr)
    return img, arr


def run_vtk(img, iso):
    import vtk
    from vtk.util import numpy_support
    fe = vtk.vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, iso)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    t = time.perf_counter()
    fe.Update()
    dt = time.perf_counter() - t
    out = fe.GetOutput()
    pts = numpy_support.vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)  # x, y, z index
    polys = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    return dt, pts[:, ::-1], polys  # as z, y, x like the others


def read_ply(path):
    """Binary little-endian PLY with float vertex properties, optional uchar colors and
    `list uchar uint vertex_indices` faces (what img23d writes)."""
    with open(path, "rb") as f:
        header = []
        while True:
            line = f.readline().decode("ascii").strip()
            header.append(line)
            if line == "end_header":
                break
        data = f.read()
    nv = nf = 0
    props, current = [], None
    for line in header:
        p = line.split()
        if p[0] == "element":
            current = p[1]
            if current == "vertex":
                nv = int(p[2])
            elif current == "face":
                nf = int(p[2])
        elif p[0] == "property" and current == "vertex":
            props.append((p[2], {"float": "<f4", "uchar": "u1", "double": "<f8"}[p[1]]))
    vdt = np.dtype(props)
    verts = np.frombuffer(data, dtype=vdt, count=nv)
    faces = np.frombuffer(data, dtype=np.dtype([("n", "u1"), ("i", "<u4", (3,))]),
                          count=nf, offset=nv * vdt.itemsize)
    xyz = np.stack([verts["x"], verts["y"], verts["z"]], axis=1).astype(np.float64)
    return xyz, faces["i"].astype(np.int64)


def run_ours(binary, path, iso, inside, out):
    r = subprocess.run([binary, "mesh", path, "--iso", str(iso), "--inside", inside,
                        "-o", out, "--timings", "--quiet"],
                       capture_output=True, text=True, check=True)
    times = dict(line.split("=") for line in r.stdout.split() if "=" in line)
    return float(times["mc_ms"]) / 1e3


# ---------------------------------------------------------------- checks

def closed(faces):
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


def chamfer(a, b):
    from scipy.spatial import cKDTree
    d1, _ = cKDTree(b).query(a)
    d2, _ = cKDTree(a).query(b)
    diag = np.linalg.norm(b.max(axis=0) - b.min(axis=0))
    return 0.5 * (d1.mean() + d2.mean()) / diag


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="256,384")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "img23d"))
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()
    import mcubes  # noqa: F401  (fail early when a peer is missing)
    import skimage
    import vtk
    if not os.path.exists(args.binary):
        sys.exit(f"build img23d first (cargo build --release): {args.binary}")
    smp = vtk.vtkSMPTools()
    lines = [
        f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}.",
        f"Peers: PyMCubes {getattr(mcubes, '__version__', '?')}, scikit-image {skimage.__version__} "
        f"(lewiner), VTK {vtk.vtkVersion.GetVTKVersion()} vtkFlyingEdges3D (SMP backend "
        f"{smp.GetBackend()}, {smp.GetEstimatedNumberOfThreads()} threads). "
        f"Median of {args.repeats} runs, milliseconds.",
        "",
        "| volume | n | triangles | img23d | VTK FE | PyMCubes | skimage | img23d / VTK | PyMCubes / img23d | Chamfer vs skimage (×diag) | closed img23d / VTK / PyMCubes / skimage |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            for name, gen, iso, inside in VOLUMES:
                vol = np.ascontiguousarray(gen(n))
                path = os.path.join(tmp, f"{name}-{n}.npy")
                np.save(path, vol)
                out = os.path.join(tmp, f"{name}-{n}.ply")
                reps = args.repeats
                ours = [run_ours(args.binary, path, iso, inside, out) for _ in range(reps)]
                img, _keep = vtk_image(vol)
                vt = [run_vtk(img, iso) for _ in range(reps)]
                pm = [run_pymcubes(vol, iso) for _ in range(max(1, min(reps, 3)))]
                sk = [run_skimage(vol, iso) for _ in range(max(1, min(reps, 3)))]
                ov, of = read_ply(out)
                sk_v = to_world(sk[0][1], n)
                t_ours = statistics.median(ours) * 1e3
                t_vtk = statistics.median(t for t, _, _ in vt) * 1e3
                t_pm = statistics.median(t for t, _, _ in pm) * 1e3
                t_sk = statistics.median(t for t, _, _ in sk) * 1e3
                cd = chamfer(ov, sk_v)
                cl = [closed(of), closed(vt[0][2]), closed(pm[0][2]), closed(sk[0][2])]
                row = (f"| {name} | {n} | {len(of)} | {t_ours:.1f} | {t_vtk:.1f} | {t_pm:.1f} | {t_sk:.1f} "
                       f"| {t_ours / t_vtk:.2f} | {t_pm / t_ours:.1f} | {cd:.1e} | "
                       + " / ".join("yes" if c else "no" for c in cl) + " |")
                lines.append(row)
                print(row, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

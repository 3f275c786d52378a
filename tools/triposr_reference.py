#!/usr/bin/env python3
"""Reference numbers for img23d's TripoSR code (numpy, float64), and the tiny decoder
graphs its parity tests load.

What it mirrors (VAST-AI-Research/TripoSR):
  * tsr/models/nerf_renderer.py `query_triplane`: points / 0.87 -> (-1, 1); plane 0 at
    (x, y), plane 1 at (x, z), plane 2 at (y, z); F.grid_sample(bilinear,
    align_corners=False, zero padding), first grid coordinate -> width; concat
    [xy C, xz C, yz C]; density = exp(d - 1), color = sigmoid(features).
  * tsr/models/network_utils.py `NeRFMLP`: Linear + SiLU layers, last Linear raw.
  * run.py + tsr/utils.py preprocessing: crop to alpha > 0 (upstream slicing drops the
    last row/column), pad to square, pad to int(side / ratio), composite on gray 0.5 with
    uint8 truncation, antialiased bilinear resize (ATen/PIL triangle filter weights).
  * tsr/utils.py `get_spherical_cameras` at azimuth 0 and SF3D's `default_cond_c2w`:
    the camera frames that place the input view on TripoSR's +X side.

The triplane has TripoSR's real shape [3, 40, 64, 64] (the decoder contracts fix it) with
values reproducible in Rust without a file: triplane(i) = ((i * 7919 + 5) % 10007) / 10007
* 2 - 1 in float64, then float32 (i = flat index in [3, 40, 64, 64] order). The MLP is
120 -> 64 -> 64 -> 4 with seeded random weights.

It writes (relative to the repository root):
  models/tests/data/triposr_parity/decoder_mlp.onnx   MLP-only layout [P, 120] -> [P, 4]
                                                      (MatMul + Add, x * Sigmoid(x))
  models/tests/data/triposr_parity/decoder_graph.onnx graph layout (triplane, points) ->
                                                      (density, color) with GridSample and
                                                      Gemm(transB=1)
and prints the numbers pasted into models/src/triposr/tests.rs. The ONNX files are run
through onnxruntime here and must match the numpy reference; a non-square GridSample is
also checked, so this script's grid_sample agrees with ONNX Runtime's on both axes.

Usage: python3 tools/triposr_reference.py
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models", "tests", "data", "triposr_parity")

RADIUS = 0.87
C, H, W = 40, 64, 64  # TripoSR's triplane: channels per plane, plane height, width
HIDDEN = 64
LAYERS = [3 * C, HIDDEN, HIDDEN, 4]

# ---------------------------------------------------------------------------------------
# Decoder math


def grid_sample(plane, u, v):
    """F.grid_sample for one [C, H, W] plane at normalised (u -> W, v -> H),
    bilinear, align_corners=False, zero padding. Returns [N, C]."""
    c, h, w = plane.shape
    ix = ((u + 1.0) * w - 1.0) / 2.0
    iy = ((v + 1.0) * h - 1.0) / 2.0
    x0 = np.floor(ix)
    y0 = np.floor(iy)
    out = np.zeros((len(u), c))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xs = x0 + dx
        ys = y0 + dy
        wx = (ix - x0) if dx else (1.0 - (ix - x0))
        wy = (iy - y0) if dy else (1.0 - (iy - y0))
        ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        xi = np.where(ok, xs, 0).astype(int)
        yi = np.where(ok, ys, 0).astype(int)
        vals = plane[:, yi, xi].T  # [N, C]
        out += np.where(ok, wx * wy, 0.0)[:, None] * vals
    return out


def features(triplane, points):
    p = points / RADIUS  # scale_tensor((-r, r) -> (-1, 1))
    xy = grid_sample(triplane[0], p[:, 0], p[:, 1])
    xz = grid_sample(triplane[1], p[:, 0], p[:, 2])
    yz = grid_sample(triplane[2], p[:, 1], p[:, 2])
    return np.concatenate([xy, xz, yz], axis=1)


def mlp(weights, x):
    h = x
    for i, (w, b) in enumerate(weights):
        h = h @ w + b
        if i + 1 < len(weights):
            h = h / (1.0 + np.exp(-h))  # SiLU
    return h


def decode(triplane, weights, points):
    raw = mlp(weights, features(triplane, points))
    density = np.exp(raw[:, 0] - 1.0)
    color = 1.0 / (1.0 + np.exp(-raw[:, 1:]))
    return raw, density, color


# ---------------------------------------------------------------------------------------
# Preprocessing


def aa_weights(n_in, n_out):
    """ATen `_compute_indices_min_size_weights_aa` / PIL `precompute_coeffs`, triangle."""
    scale = n_in / n_out
    support = scale if scale >= 1.0 else 1.0
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        ws = [max(0.0, 1.0 - abs((j - center + 0.5) * inv)) for j in range(xmin, xmax)]
        total = sum(ws)
        for j, wj in zip(range(xmin, xmax), ws):
            m[i, j] = wj / total if total else 0.0
    return m


def resize_aa(img, size):
    """[H, W, C] -> [size, size, C]: horizontal pass, then vertical (as ATen)."""
    h, w, _ = img.shape
    tmp = np.einsum("ow,hwc->hoc", aa_weights(w, size), img)
    return np.einsum("oh,hwc->owc", aa_weights(h, size), tmp)


def preprocess(rgba, ratio, size):
    alpha = np.where(rgba[..., 3] > 0)
    y1, y2, x1, x2 = alpha[0].min(), alpha[0].max(), alpha[1].min(), alpha[1].max()
    fg = rgba[y1:y2, x1:x2]
    side = max(fg.shape[0], fg.shape[1])
    ph0, pw0 = (side - fg.shape[0]) // 2, (side - fg.shape[1]) // 2
    ph1, pw1 = side - fg.shape[0] - ph0, side - fg.shape[1] - pw0
    img = np.pad(fg, ((ph0, ph1), (pw0, pw1), (0, 0)))
    new = int(img.shape[0] / ratio)
    ph0 = pw0 = (new - side) // 2
    ph1, pw1 = new - side - ph0, new - side - pw0
    img = np.pad(img, ((ph0, ph1), (pw0, pw1), (0, 0)))
    f = img.astype(np.float32) / 255.0
    f = f[:, :, :3] * f[:, :, 3:4] + (1 - f[:, :, 3:4]) * 0.5
    u8 = (f * 255.0).astype(np.uint8)
    return resize_aa(u8.astype(np.float64) / 255.0, size)


# ---------------------------------------------------------------------------------------
# Camera conventions


def normalize(v):
    return v / np.linalg.norm(v)


def spherical_camera(azimuth_deg, elevation_deg, distance):
    """tsr/utils.py get_spherical_cameras for one view: (position, right, up, back)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    pos = distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    lookat = normalize(-pos)
    right = normalize(np.cross(lookat, [0.0, 0.0, 1.0]))
    up = normalize(np.cross(right, lookat))
    return pos, right, up, -lookat


def check_cameras():
    pos, right, up, back = spherical_camera(0.0, 0.0, 1.9)
    assert np.allclose(normalize(pos), [1, 0, 0]) and np.allclose(back, [1, 0, 0])
    assert np.allclose(right, [0, 1, 0]) and np.allclose(up, [0, 0, 1])
    # SF3D default_cond_c2w(d): columns right, up, back (OpenGL camera), position.
    c2w = np.array([[0, 0, 1, 1.6], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=float)
    assert np.allclose(c2w[:, 0], right) and np.allclose(c2w[:, 1], up)
    assert np.allclose(c2w[:, 2], back) and np.allclose(normalize(c2w[:, 3]), [1, 0, 0])
    # img23d's triposr_to_gltf: (x, y, z) -> (y, z, x).
    to_gltf = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    assert np.isclose(np.linalg.det(to_gltf), 1.0)
    # The input camera's right/up/back become glTF's +X/+Y/+Z: the front view of a
    # glTF asset (camera on +Z looking at -Z, +Y up, +X to the right).
    assert np.allclose(to_gltf @ right, [1, 0, 0])
    assert np.allclose(to_gltf @ up, [0, 1, 0])
    assert np.allclose(to_gltf @ back, [0, 0, 1])
    print("cameras: azimuth-0 render camera == SF3D conditioning camera: at +X, right +Y, up +Z")


# ---------------------------------------------------------------------------------------
# ONNX graphs


def write_onnx(triplane, weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    os.makedirs(OUT, exist_ok=True)
    f32 = lambda a: numpy_helper.from_array(np.asarray(a, dtype=np.float32))  # noqa: E731

    # MLP-only: MatMul + Add, SiLU as x * Sigmoid(x) (torch's legacy export of nn.SiLU).
    nodes, inits = [], []
    x = "features"
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"lin{i}"] if i + 1 < len(weights) else ["raw"])]
        if i + 1 < len(weights):
            nodes += [helper.make_node("Sigmoid", [f"lin{i}"], [f"sig{i}"]),
                      helper.make_node("Mul", [f"lin{i}", f"sig{i}"], [f"act{i}"])]
            x = f"act{i}"
    g = helper.make_graph(
        nodes, "triposr_parity_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3 * C])],
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "decoder_mlp.onnx"))

    # Graph layout: GridSample per plane, concat, Gemm(transB=1) layers, activations.
    nodes, inits = [], []
    inits += [f32([RADIUS]), f32([1.0])]
    inits[0].name, inits[1].name = "radius", "one"
    nodes.append(helper.make_node("Div", ["points", "radius"], ["p"]))  # [1, P, 3]
    for k, (a, b) in enumerate([(0, 1), (0, 2), (1, 2)]):
        idx = numpy_helper.from_array(np.array([a, b], dtype=np.int64), f"axes{k}")
        pk = numpy_helper.from_array(np.array([k], dtype=np.int64), f"plane{k}")
        inits += [idx, pk]
        nodes += [
            helper.make_node("Gather", ["p", f"axes{k}"], [f"uv{k}"], axis=2),        # [1, P, 2]
            helper.make_node("Unsqueeze", [f"uv{k}", "ax1"], [f"grid{k}"]),          # [1, 1, P, 2]
            helper.make_node("Gather", ["triplane", f"plane{k}"], [f"pl{k}"], axis=1),  # [1, 1, C, H, W]
            helper.make_node("Squeeze", [f"pl{k}", "ax1"], [f"plane_{k}"]),          # [1, C, H, W]
            helper.make_node("GridSample", [f"plane_{k}", f"grid{k}"], [f"s{k}"],
                             mode="bilinear", padding_mode="zeros", align_corners=0),  # [1, C, 1, P]
        ]
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"))
    inits.append(numpy_helper.from_array(np.array([3 * C, -1], dtype=np.int64), "shape_fp"))
    nodes += [
        helper.make_node("Concat", ["s0", "s1", "s2"], ["cat"], axis=1),  # [1, 3C, 1, P]
        helper.make_node("Reshape", ["cat", "shape_fp"], ["f_t"]),       # [3C, P]
        helper.make_node("Transpose", ["f_t"], ["feat"], perm=[1, 0]),   # [P, 3C]
    ]
    x = "feat"
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(w.T.astype(np.float32).copy(), f"gw{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"gb{i}")]
        y = f"g{i}" if i + 1 < len(weights) else "out4"
        nodes.append(helper.make_node("Gemm", [x, f"gw{i}", f"gb{i}"], [y], transB=1))
        if i + 1 < len(weights):
            nodes += [helper.make_node("Sigmoid", [y], [f"gs{i}"]),
                      helper.make_node("Mul", [f"gs{i}", y], [f"ga{i}"])]
            x = f"ga{i}"
    inits += [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in
              [("s0i", [0]), ("s1i", [1]), ("s4i", [4]), ("axc", [1]), ("shp_d", [1, -1, 1]),
               ("shp_c", [1, -1, 3])]]
    nodes += [
        helper.make_node("Slice", ["out4", "s0i", "s1i", "axc"], ["d_raw"]),
        helper.make_node("Slice", ["out4", "s1i", "s4i", "axc"], ["f_raw"]),
        helper.make_node("Sub", ["d_raw", "one"], ["d_b"]),
        helper.make_node("Exp", ["d_b"], ["d_e"]),
        helper.make_node("Reshape", ["d_e", "shp_d"], ["density"]),
        helper.make_node("Sigmoid", ["f_raw"], ["c_s"]),
        helper.make_node("Reshape", ["c_s", "shp_c"], ["color"]),
    ]
    g = helper.make_graph(
        nodes, "triposr_parity_graph",
        [helper.make_tensor_value_info("triplane", TensorProto.FLOAT, [1, 3, C, H, W]),
         helper.make_tensor_value_info("points", TensorProto.FLOAT, [1, "P", 3])],
        [helper.make_tensor_value_info("density", TensorProto.FLOAT, [1, "P", 1]),
         helper.make_tensor_value_info("color", TensorProto.FLOAT, [1, "P", 3])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "decoder_graph.onnx"))
    # The same graph with density = exp(d - 2): its MLP reads the same, but the graph
    # differs from TripoSR's activations, so img23d must fall back to running it as is.
    for t in m.graph.initializer:
        if t.name == "one":
            t.CopyFrom(numpy_helper.from_array(np.array([2.0], dtype=np.float32), "one"))
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "decoder_graph_bias2.onnx"))


def check_onnx(triplane, points, raw, density, color):
    import onnxruntime as ort

    s = ort.InferenceSession(os.path.join(OUT, "decoder_mlp.onnx"), providers=["CPUExecutionProvider"])
    feats = features(triplane, points).astype(np.float32)
    got = s.run(None, {"features": feats})[0]
    assert np.allclose(got, raw, rtol=1e-5, atol=1e-5), np.abs(got - raw).max()
    s = ort.InferenceSession(os.path.join(OUT, "decoder_graph.onnx"), providers=["CPUExecutionProvider"])
    d, c = s.run(None, {"triplane": triplane[None].astype(np.float32),
                        "points": points[None].astype(np.float32)})
    assert np.allclose(d[0, :, 0], density, rtol=1e-5), np.abs(d[0, :, 0] - density).max()
    assert np.allclose(c[0], color, atol=1e-6), np.abs(c[0] - color).max()
    # A non-square plane, so that width and height cannot be swapped unnoticed.
    from onnx import TensorProto, helper
    plane = np.random.default_rng(3).normal(size=(1, 2, 5, 7)).astype(np.float32)
    uv = np.random.default_rng(4).uniform(-1.2, 1.2, (1, 1, 9, 2)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("GridSample", ["x", "g"], ["y"], mode="bilinear",
                          padding_mode="zeros", align_corners=0)], "gs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 7]),
         helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, 1, 9, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1, 9])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    got = s.run(None, {"x": plane, "g": uv})[0][0, :, 0, :].T
    want = grid_sample(plane[0].astype(np.float64), uv[0, 0, :, 0].astype(np.float64),
                       uv[0, 0, :, 1].astype(np.float64))
    assert np.allclose(got, want, atol=1e-5), np.abs(got - want).max()
    print("onnxruntime: both decoder layouts and a non-square GridSample match the numpy reference")


def fmt(a):
    return "[" + ", ".join(f"{v:.9e}" for v in np.ravel(a)) + "]"


def main():
    rng = np.random.default_rng(20240314)
    i = np.arange(3 * C * H * W, dtype=np.int64)
    triplane = (((i * 7919 + 5) % 10007) / 10007.0 * 2.0 - 1.0).astype(np.float32)
    triplane = triplane.reshape(3, C, H, W).astype(np.float64)
    weights = []
    for i, (k, n) in enumerate(zip(LAYERS[:-1], LAYERS[1:])):
        w = rng.normal(0.0, 1.2 / np.sqrt(k), (k, n)).astype(np.float32).astype(np.float64)
        b = rng.normal(0.0, 0.1, (n,)).astype(np.float32).astype(np.float64)
        if i + 1 == len(LAYERS) - 1:
            b[0] += 4.2  # put the raw density around the 25 threshold (1 + ln 25 = 4.22)
        weights.append((w, b))

    # Points: interior, near texel centres, on the box edge, and outside (zero padding).
    points = np.array([
        [0.0, 0.0, 0.0],
        [0.31, -0.52, 0.77],
        [-0.86, 0.85, -0.12],
        [0.87, 0.87, 0.87],
        [-0.87, -0.87, -0.87],
        [0.95, 0.1, -0.3],     # x beyond the box: planes xy, xz padded
        [0.05, -0.6, 1.2],     # z beyond: planes xz, yz padded
        [0.5, 0.25, -0.4],
    ])
    raw, density, color = decode(triplane, weights, points)

    check_cameras()
    write_onnx(triplane.astype(np.float32), weights)
    check_onnx(triplane.astype(np.float32), points, raw, density, color)

    print("\n// decoder parity (tools/triposr_reference.py)")
    print(f"const POINTS: [[f32; 3]; {len(points)}] = [" +
          ", ".join("[" + ", ".join(f"{v}" for v in p) + "]" for p in points) + "];")
    print(f"const RAW: [f32; {raw.size}] = {fmt(raw)};")
    print(f"const DENSITY: [f32; {density.size}] = {fmt(density)};")
    print(f"const COLOR: [f32; {color.size}] = {fmt(color)};")

    # Preprocessing: 11 x 7 picture, object with a soft edge, framed to 6 x 6.
    pic = np.zeros((7, 11, 4), dtype=np.uint8)
    pic[..., :3] = 40
    for y in range(1, 6):
        for x in range(2, 10):
            pic[y, x] = [(37 * x) % 256, (91 * y) % 256, (13 * x * y) % 256, 255 if x < 9 else 100]
    pre = preprocess(pic, 0.85, 6)
    print("\n// preprocessing (tools/triposr_reference.py): 11x7 picture -> 6x6, HWC")
    print(f"const PICTURE: [[u8; 4]; 77] = [" +
          ", ".join("[" + ", ".join(str(int(v)) for v in px) + "]" for px in pic.reshape(-1, 4)) + "];")
    print(f"const PREPROCESSED: [f32; {pre.size}] = {fmt(pre)};")

    try:
        from PIL import Image
        img = np.random.default_rng(1).random((37, 23)).astype(np.float32)
        for size in (16, 64):
            want = np.asarray(Image.fromarray(img, mode="F").resize((size, size), Image.BILINEAR))
            got = resize_aa(img[..., None].astype(np.float64), size)[..., 0]
            assert np.allclose(got, want, atol=1e-5), np.abs(got - want).max()
        print("\nPIL float-mode BILINEAR resize agrees with the antialiased weights here")
    except ImportError:
        print("\n(PIL not installed: resize cross-check skipped)", file=sys.stderr)


if __name__ == "__main__":
    main()

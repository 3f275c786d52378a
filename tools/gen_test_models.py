#!/usr/bin/env python3
"""Generate the tiny ONNX test models in models/tests/data/ and their reference outputs.

Each model has exactly the input/output names, ranks and element types of a real model's
contract (img23d_models::contracts), the real fixed sizes where the contract fixes them
(TripoSR's [1,3,512,512] image and [1,3,40,64,64] triplane, Depth Pro's 1536x1536 input),
and cheap inner operators with fixed weights (seeded numpy). Reference outputs are
computed here with numpy (float64) and written to reference.json; the Rust tests
(models/tests/runtime.rs) run the models through ONNX Runtime and compare to 1e-5.

Inputs are deterministic and reproducible in Rust without a random generator:
    value(i) = ((i * 7919 + offset) % 10007) / 10007          (float64, then float32)
scaled per input as `value * scale + shift` in float64 before the cast.

Run:  python3 tools/gen_test_models.py      (needs numpy and onnx; writes models/tests/data/)
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "tests", "data")
OPSET = 17
RNG = np.random.default_rng(20240523)
SAMPLES = 48  # output values sampled per output for the reference file


def det_input(shape, offset, scale=1.0, shift=0.0):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    v = ((i * 7919 + offset) % 10007).astype(np.float64) / 10007.0
    return (v * scale + shift).astype(np.float32).reshape(shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def i64(a):
    return np.asarray(a, dtype=np.int64)


def save(name, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, name.replace(".onnx", ""), inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="img23d tools/gen_test_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name))


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def sample(arr):
    flat = np.asarray(arr, dtype=np.float64).ravel()
    idx = np.unique(np.linspace(0, flat.size - 1, SAMPLES).round().astype(np.int64))
    return {
        "shape": list(arr.shape),
        "indices": idx.tolist(),
        "values": [float(x) for x in flat[idx]],
        "mean": float(flat.mean()),
    }


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


# ---------------------------------------------------------------- TripoSR encoder
def triposr_encoder(ref):
    # image [1,3,512,512] in [0,1] -> triplane [1,3,40,64,64]:
    # 8x8 average pooling -> 1x1 conv 3->120 -> tanh -> reshape into 3 planes x 40 channels.
    w = f32(RNG.normal(0, 0.8, (120, 3, 1, 1)))
    b = f32(RNG.normal(0, 0.1, (120,)))
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Conv", ["pooled", "enc_w", "enc_b"], ["feat"]),
        helper.make_node("Tanh", ["feat"], ["act"]),
        helper.make_node("Reshape", ["act", "enc_shape"], ["triplane"]),
    ]
    save("triposr_encoder.onnx", nodes, [vi("image", [1, 3, 512, 512])],
         [vi("triplane", [1, 3, 40, 64, 64])],
         [init("enc_w", w), init("enc_b", b), init("enc_shape", i64([1, 3, 40, 64, 64]))])
    x = det_input((1, 3, 512, 512), 11).astype(np.float64)
    pooled = x.reshape(1, 3, 64, 8, 64, 8).mean(axis=(3, 5))
    feat = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), pooled) + b[None, :, None, None]
    out = np.tanh(feat).reshape(1, 3, 40, 64, 64)
    ref["triposr_encoder"] = {"inputs": [{"shape": [1, 3, 512, 512], "offset": 11, "scale": 1.0, "shift": 0.0}],
                              "outputs": [sample(out)]}
    return out


# ---------------------------------------------------------------- TripoSR decoder, MLP only
def mlp_weights():
    sizes = [120] + [64] * 9 + [4]
    ws, bs = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws.append(f32(RNG.normal(0, 1.7 / np.sqrt(a), (a, b))))
        bs.append(f32(RNG.normal(0, 0.05, (b,))))
    return ws, bs


def triposr_decoder_mlp(ref, ws, bs):
    # features [P,120] -> raw [P,4]: Linear 120->64 + SiLU, 8 x (Linear 64->64 + SiLU),
    # Linear 64->4 (no activation: density = exp(raw0 - 1), color = sigmoid(raw1..3)).
    nodes, inits = [], []
    cur = "features"
    for k, (w, b) in enumerate(zip(ws, bs)):
        inits += [init(f"w{k}", w), init(f"b{k}", b)]
        last = k == len(ws) - 1
        lin = "raw" if last else f"lin{k}"
        nodes.append(helper.make_node("Gemm", [cur, f"w{k}", f"b{k}"], [lin]))
        if not last:
            nodes.append(helper.make_node("Sigmoid", [lin], [f"sig{k}"]))
            nodes.append(helper.make_node("Mul", [lin, f"sig{k}"], [f"act{k}"]))
            cur = f"act{k}"
    save("triposr_decoder_mlp.onnx", nodes, [vi("features", ["num_points", 120])],
         [vi("raw", ["num_points", 4])], inits)
    p = 257
    x = det_input((p, 120), 23, 2.0, -1.0).astype(np.float64)
    h = x
    for k, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.astype(np.float64) + b
        if k < len(ws) - 1:
            h = silu(h)
    ref["triposr_decoder_mlp"] = {"inputs": [{"shape": [p, 120], "offset": 23, "scale": 2.0, "shift": -1.0}],
                                  "outputs": [sample(h)]}


# ---------------------------------------------------------------- TripoSR decoder, field layout
def grid_sample_bilinear(planes, grid):
    """torch.nn.functional.grid_sample(mode=bilinear, padding=zeros, align_corners=False).
    planes [N,C,H,W], grid [N,Ho,Wo,2] (x indexes W, y indexes H) -> [N,C,Ho,Wo]."""
    n, c, h, w = planes.shape
    x = ((grid[..., 0] + 1.0) * w - 1.0) / 2.0
    y = ((grid[..., 1] + 1.0) * h - 1.0) / 2.0
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    out = np.zeros((n, c) + grid.shape[1:3])
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wx = (x - x0) if dx else (1.0 - (x - x0))
            wy = (y - y0) if dy else (1.0 - (y - y0))
            valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            xc, yc = np.clip(xi, 0, w - 1), np.clip(yi, 0, h - 1)
            for k in range(n):
                v = planes[k][:, yc[k], xc[k]]  # [C,Ho,Wo]
                out[k] += v * (wx[k] * wy[k] * valid[k])[None]
    return out


def triposr_decoder_field(ref):
    # triplane [1,3,40,64,64] + points [1,P,3] (world coords in [-0.87,0.87]) ->
    # density [1,P,1] (= exp(raw-1)), color [1,P,3] (= sigmoid). Sampling as in TripoSR:
    # points / 0.87, planes xy, xz, yz, bilinear grid_sample (align_corners=False, zeros),
    # concat -> 120 features (plane-major), then one linear layer 120->4.
    w = f32(RNG.normal(0, 0.3, (120, 4)))
    b = f32(RNG.normal(0, 0.1, (4,)))
    nodes = [
        helper.make_node("Div", ["points", "radius"], ["pn"]),
        helper.make_node("Gather", ["pn", "plane_axes"], ["pg"], axis=2),           # [1,P,3,2]
        helper.make_node("Transpose", ["pg"], ["grid"], perm=[2, 0, 1, 3]),          # [3,1,P,2]
        helper.make_node("Reshape", ["triplane", "planes_shape"], ["planes"]),        # [3,40,64,64]
        helper.make_node("GridSample", ["planes", "grid"], ["sampled"], mode="bilinear",
                         padding_mode="zeros", align_corners=0),                     # [3,40,1,P]
        helper.make_node("Squeeze", ["sampled", "axis2"], ["s3"]),                   # [3,40,P]
        helper.make_node("Transpose", ["s3"], ["sp"], perm=[2, 0, 1]),               # [P,3,40]
        helper.make_node("Reshape", ["sp", "feat_shape"], ["feat"]),                 # [P,120]
        helper.make_node("Gemm", ["feat", "fw", "fb"], ["raw"]),                     # [P,4]
        helper.make_node("Slice", ["raw", "s0", "s1", "ax1"], ["d_raw"]),
        helper.make_node("Slice", ["raw", "s1", "s4", "ax1"], ["c_raw"]),
        helper.make_node("Sub", ["d_raw", "one"], ["d_shift"]),
        helper.make_node("Exp", ["d_shift"], ["d"]),
        helper.make_node("Sigmoid", ["c_raw"], ["c"]),
        helper.make_node("Unsqueeze", ["d", "axis0"], ["density"]),
        helper.make_node("Unsqueeze", ["c", "axis0"], ["color"]),
    ]
    inits = [
        init("radius", f32(0.87)), init("plane_axes", i64([[0, 1], [0, 2], [1, 2]])),
        init("planes_shape", i64([3, 40, 64, 64])), init("axis2", i64([2])),
        init("feat_shape", i64([-1, 120])), init("fw", w), init("fb", b),
        init("s0", i64([0])), init("s1", i64([1])), init("s4", i64([4])), init("ax1", i64([1])),
        init("one", f32(1.0)), init("axis0", i64([0])),
    ]
    save("triposr_decoder_field.onnx", nodes,
         [vi("triplane", [1, 3, 40, 64, 64]), vi("points", [1, "num_points", 3])],
         [vi("density", [1, "num_points", 1]), vi("color", [1, "num_points", 3])], inits)
    p = 193
    tri = det_input((1, 3, 40, 64, 64), 5, 2.0, -1.0).astype(np.float64)
    pts = det_input((1, p, 3), 31, 1.9, -0.95).astype(np.float32).astype(np.float64)
    pn = (pts.astype(np.float32) / np.float32(0.87)).astype(np.float64)
    grid = np.stack([pn[0][:, [0, 1]], pn[0][:, [0, 2]], pn[0][:, [1, 2]]])[:, None]  # [3,1,P,2]
    sampled = grid_sample_bilinear(tri.reshape(3, 40, 64, 64), grid)                   # [3,40,1,P]
    feat = sampled[:, :, 0, :].transpose(2, 0, 1).reshape(p, 120)
    raw = feat @ w.astype(np.float64) + b
    density = np.exp(raw[:, :1] - 1.0)[None]
    color = sigmoid(raw[:, 1:])[None]
    ref["triposr_decoder_field"] = {
        "inputs": [{"shape": [1, 3, 40, 64, 64], "offset": 5, "scale": 2.0, "shift": -1.0},
                   {"shape": [1, p, 3], "offset": 31, "scale": 1.9, "shift": -0.95}],
        "outputs": [sample(density), sample(color)]}


# ---------------------------------------------------------------- Depth Pro
def depth_common():
    # pixel_values [1,3,1536,1536] in [-1,1] -> 16x16 average pool -> 1x1 conv 3->1 ->
    # relu + 0.05 -> nearest upsample x16 = canonical inverse depth [1,1,1536,1536];
    # global average pool -> 1x1 conv 3->1 + 50 = fov in degrees.
    wd = f32(RNG.normal(0, 0.5, (1, 3, 1, 1)))
    wf = f32(RNG.normal(0, 5.0, (1, 3, 1, 1)))
    nodes = [
        helper.make_node("AveragePool", ["pixel_values"], ["pool"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Conv", ["pool", "wd"], ["d0"]),
        helper.make_node("Relu", ["d0"], ["d1"]),
        helper.make_node("Add", ["d1", "eps"], ["d2"]),
        helper.make_node("Resize", ["d2", "", "up"], ["cid"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("GlobalAveragePool", ["pixel_values"], ["gp"]),
        helper.make_node("Conv", ["gp", "wf"], ["f0"]),
        helper.make_node("Add", ["f0", "fov_bias"], ["fov"]),                     # [1,1,1,1]
    ]
    inits = [init("wd", wd), init("wf", wf), init("eps", f32(0.05)),
             init("up", f32([1, 1, 16, 16])), init("fov_bias", f32(50.0))]
    x = det_input((1, 3, 1536, 1536), 3, 2.0, -1.0).astype(np.float64)
    pool = x.reshape(1, 3, 96, 16, 96, 16).mean(axis=(3, 5))
    d = np.maximum(np.einsum("c,nchw->nhw", wd[0, :, 0, 0].astype(np.float64), pool), 0) + 0.05
    cid = np.repeat(np.repeat(d, 16, axis=1), 16, axis=2)[:, None]              # [1,1,1536,1536]
    gp = x.mean(axis=(2, 3))
    fov = (gp @ wf[0, :, 0, 0].astype(np.float64) + 50.0).reshape(1, 1, 1, 1)
    return nodes, inits, cid, fov


def depth_pro(ref):
    inp = {"shape": [1, 3, 1536, 1536], "offset": 3, "scale": 2.0, "shift": -1.0}
    # Canonical layout (Apple's forward): canonical_inverse_depth + fov_deg.
    nodes, inits, cid, fov = depth_common()
    nodes += [helper.make_node("Identity", ["cid"], ["canonical_inverse_depth"]),
              helper.make_node("Identity", ["fov"], ["fov_deg"])]
    save("depth_pro_canonical.onnx", nodes, [vi("pixel_values", [1, 3, 1536, 1536])],
         [vi("canonical_inverse_depth", [1, 1, 1536, 1536]), vi("fov_deg", [1, 1, 1, 1])], inits)
    ref["depth_pro_canonical"] = {"inputs": [inp], "outputs": [sample(cid), sample(fov)]}
    # Metric layout (onnx-community export): predicted_depth = 1/clamp(cid * W/f, 1e-4, 1e4)
    # with f = 0.5 W / tan(fov/2) (W = 1536), focallength_px = f.
    nodes, inits, cid, fov = depth_common()
    nodes += [
        helper.make_node("Mul", ["fov", "half_rad"], ["half"]),                    # fov/2 in rad
        helper.make_node("Tan", ["half"], ["t"]),
        helper.make_node("Div", ["half_w", "t"], ["f"]),                           # [1,1,1,1]
        helper.make_node("Div", ["w_px", "f"], ["scale"]),
        helper.make_node("Mul", ["cid", "scale"], ["inv"]),
        helper.make_node("Clip", ["inv", "lo", "hi"], ["invc"]),
        helper.make_node("Reciprocal", ["invc"], ["depth4"]),
        helper.make_node("Squeeze", ["depth4", "axis1"], ["predicted_depth"]),     # [1,1536,1536]
        helper.make_node("Reshape", ["f", "one_shape"], ["focallength_px"]),       # [1]
    ]
    inits += [init("half_rad", f32(np.pi / 360.0)), init("half_w", f32(768.0)), init("w_px", f32(1536.0)),
              init("lo", f32(1e-4)), init("hi", f32(1e4)), init("axis1", i64([1])), init("one_shape", i64([1]))]
    save("depth_pro_metric.onnx", nodes, [vi("pixel_values", ["batch", 3, 1536, 1536])],
         [vi("predicted_depth", ["batch", 1536, 1536]), vi("focallength_px", ["batch"])], inits)
    f = 768.0 / np.tan(fov * np.pi / 360.0)
    depth = 1.0 / np.clip(cid * (1536.0 / f), 1e-4, 1e4)
    ref["depth_pro_metric"] = {"inputs": [inp], "outputs": [sample(depth[:, 0]), sample(f.reshape(1))]}


# ---------------------------------------------------------------- segmentation (rembg-style)
def segmentation(ref):
    # input [1,3,1024,1024] (normalised image) -> mask [1,1,1024,1024] in [0,1]:
    # 8x8 average pool -> 1x1 conv 3->1 -> sigmoid -> nearest upsample x8. A second,
    # coarser output mimics the side outputs of u2net/isnet/BiRefNet (ignored: first wins).
    w = f32(RNG.normal(0, 1.5, (1, 3, 1, 1)))
    b = f32(RNG.normal(0, 0.1, (1,)))
    nodes = [
        helper.make_node("AveragePool", ["input_image"], ["pool"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Conv", ["pool", "w", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["coarse"]),
        helper.make_node("Resize", ["coarse", "", "up"], ["output_image"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
    ]
    save("segmentation.onnx", nodes, [vi("input_image", [1, 3, 1024, 1024])],
         [vi("output_image", [1, 1, 1024, 1024]), vi("coarse", [1, 1, 128, 128])],
         [init("w", w), init("b", b), init("up", f32([1, 1, 8, 8]))])
    x = det_input((1, 3, 1024, 1024), 17, 4.0, -2.0).astype(np.float64)
    pool = x.reshape(1, 3, 128, 8, 128, 8).mean(axis=(3, 5))
    coarse = sigmoid(np.einsum("c,nchw->nhw", w[0, :, 0, 0].astype(np.float64), pool) + b[0])
    mask = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, None]
    ref["segmentation"] = {"inputs": [{"shape": [1, 3, 1024, 1024], "offset": 17, "scale": 4.0, "shift": -2.0}],
                           "outputs": [sample(mask)]}


# ---------------------------------------------------------------- wrong signatures
def wrong_models():
    # An "encoder" with the wrong input size and output layout (a TripoSR-like export at
    # 256 px with 32-channel planes), and an MLP decoder taking float16.
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "w", "b"], ["feat"]),
        helper.make_node("Reshape", ["feat", "shape"], ["planes"]),
    ]
    save("wrong_encoder.onnx", nodes, [vi("image", [1, 3, 256, 256])], [vi("planes", [1, 3, 32, 64, 64])],
         [init("w", f32(np.ones((96, 3, 1, 1)) * 0.1)), init("b", f32(np.zeros(96))),
          init("shape", i64([1, 3, 32, 64, 64]))])
    nodes = [helper.make_node("Cast", ["features"], ["f32"], to=TensorProto.FLOAT),
             helper.make_node("Gemm", ["f32", "w", "b"], ["raw"])]
    save("wrong_decoder_fp16.onnx", nodes, [vi("features", ["num_points", 120], TensorProto.FLOAT16)],
         [vi("raw", ["num_points", 4])], [init("w", f32(np.ones((120, 4)) * 0.01)), init("b", f32(np.zeros(4)))])


# ---------------------------------------------------------------- Depth Pro scene pair
def depth_pro_scene(ref):
    # Two files with the two Depth Pro layouts computing the SAME canonical scene from the
    # picture, with fixed (not random) weights, for the end-to-end tests of `img23d depth`
    # (tests/depth_cmd.rs, models/tests/depth_pro.rs): brighter pixels are nearer.
    #   lum = mean over RGB of the 4x4-average-pooled input (in [-1, 1]);
    #   canonical inverse depth = 0.5 + 0.25 * lum, nearest-upsampled x4 -> [0.25, 0.75];
    #   fov_deg = 55 + 10 * mean(input) -> 45 degrees for a black picture.
    # An all-black picture therefore has metric depth 1 / (2 tan(22.5 deg) * 0.25)
    # = 4.828427 m at every pixel, whatever its size; a white one 1 / (2 tan(32.5 deg) *
    # 0.75) = 1.046503 m.
    def common():
        nodes = [
            helper.make_node("AveragePool", ["pixel_values"], ["pool"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("Conv", ["pool", "w_lum"], ["lum"]),
            helper.make_node("Mul", ["lum", "quarter"], ["lum4"]),
            helper.make_node("Add", ["lum4", "half"], ["cid_small"]),
            helper.make_node("Resize", ["cid_small", "", "up"], ["cid"], mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
            helper.make_node("GlobalAveragePool", ["pixel_values"], ["gp"]),
            helper.make_node("Conv", ["gp", "w_lum"], ["gl"]),
            helper.make_node("Mul", ["gl", "ten"], ["gl10"]),
            helper.make_node("Add", ["gl10", "base_fov"], ["fov"]),                  # [1,1,1,1]
        ]
        inits = [init("w_lum", f32(np.full((1, 3, 1, 1), 1.0 / 3.0))), init("quarter", f32(0.25)),
                 init("half", f32(0.5)), init("up", f32([1, 1, 4, 4])), init("ten", f32(10.0)),
                 init("base_fov", f32(55.0))]
        return nodes, inits

    x = det_input((1, 3, 1536, 1536), 11, 2.0, -1.0).astype(np.float64)
    lum = x.reshape(1, 3, 384, 4, 384, 4).mean(axis=(3, 5)).mean(axis=1)
    cid = np.repeat(np.repeat(0.5 + 0.25 * lum, 4, axis=1), 4, axis=2)[:, None]
    fov = (55.0 + 10.0 * x.mean()).reshape(1, 1, 1, 1)
    inp = {"shape": [1, 3, 1536, 1536], "offset": 11, "scale": 2.0, "shift": -1.0}

    nodes, inits = common()
    nodes += [helper.make_node("Identity", ["cid"], ["canonical_inverse_depth"]),
              helper.make_node("Identity", ["fov"], ["fov_deg"])]
    save("depth_pro_scene_canonical.onnx", nodes, [vi("pixel_values", [1, 3, 1536, 1536])],
         [vi("canonical_inverse_depth", [1, 1, 1536, 1536]), vi("fov_deg", [1, 1, 1, 1])], inits)
    ref["depth_pro_scene_canonical"] = {"inputs": [inp], "outputs": [sample(cid), sample(fov)]}

    # The same canonical layout with its singleton dimensions squeezed, as some exports
    # have them (issue 12): inverse depth [1,1536,1536], fov [1]. Equivalent, so accepted.
    nodes, inits = common()
    nodes += [helper.make_node("Squeeze", ["cid", "axis1"], ["canonical_inverse_depth"]),
              helper.make_node("Reshape", ["fov", "one_shape"], ["fov_deg"])]
    inits += [init("axis1", i64([1])), init("one_shape", i64([1]))]
    save("depth_pro_scene_canonical_squeezed.onnx", nodes, [vi("pixel_values", [1, 3, 1536, 1536])],
         [vi("canonical_inverse_depth", [1, 1536, 1536]), vi("fov_deg", [1])], inits)
    ref["depth_pro_scene_canonical_squeezed"] = {"inputs": [inp],
                                                 "outputs": [sample(cid[:, 0]), sample(fov.reshape(1))]}

    nodes, inits = common()
    nodes += [
        helper.make_node("Mul", ["fov", "half_rad"], ["half_fov"]),
        helper.make_node("Tan", ["half_fov"], ["t"]),
        helper.make_node("Div", ["half_w", "t"], ["f"]),
        helper.make_node("Div", ["w_px", "f"], ["scale"]),
        helper.make_node("Mul", ["cid", "scale"], ["inv"]),
        helper.make_node("Clip", ["inv", "lo", "hi"], ["invc"]),
        helper.make_node("Reciprocal", ["invc"], ["depth4"]),
        helper.make_node("Squeeze", ["depth4", "axis1"], ["predicted_depth"]),
        helper.make_node("Reshape", ["f", "one_shape"], ["focallength_px"]),
    ]
    inits += [init("half_rad", f32(np.pi / 360.0)), init("half_w", f32(768.0)), init("w_px", f32(1536.0)),
              init("lo", f32(1e-4)), init("hi", f32(1e4)), init("axis1", i64([1])), init("one_shape", i64([1]))]
    save("depth_pro_scene_metric.onnx", nodes, [vi("pixel_values", ["batch", 3, 1536, 1536])],
         [vi("predicted_depth", ["batch", 1536, 1536]), vi("focallength_px", ["batch"])], inits)
    f = 768.0 / np.tan(fov * np.pi / 360.0)
    depth = 1.0 / np.clip(cid * (1536.0 / f), 1e-4, 1e4)
    ref["depth_pro_scene_metric"] = {"inputs": [inp], "outputs": [sample(depth[:, 0]), sample(f.reshape(1))]}


# ---------------------------------------------------------------- TripoSR object pair
def triposr_object_pair(ref):
    # An encoder/decoder pair with TripoSR's exact contracts whose field holds a known
    # object, for the end-to-end tests of the main job (tests/triposr_cmd.rs): fixed
    # weights, no random numbers. In TripoSR's frame (planes xy, xz, yz; grid_sample
    # coordinates u -> width, v -> height in [-1, 1]):
    #   channel 0 of every plane: -5 (u^2 + v^2), plus -20 max(0, -u - 0.2) on planes xy
    #   and xz (their u is x): a sphere of radius 0.6 (x 0.87 in the scene) cut flat at
    #   x = -0.27, so its round front faces +X, the input camera's side, and its flat back
    #   -X;
    #   channel 1 of plane yz: 5 u, a red logit growing toward +Y (the picture's right);
    #   the other channels: 0.5 * tanh-free linear features of the 8x8-pooled picture.
    # The decoder (MLP layout, 120 -> 64 -> 64 -> 4, SiLU) carries the sum of the planes'
    # channel 0 (density) and channel 1 (red) through pass-through neurons with bias 10,
    # and turns them into raw density d with exp(d - 1) = 25 on the sphere
    # (d = h0 - 10 + 1 + ln 25 + 2 * 5 * 0.36) and the red logit h1 - 10.
    n = 64
    coords = ((2.0 * np.arange(n) + 1.0) / n - 1.0).astype(np.float32)  # texel centres
    u_row = f32(coords.reshape(1, 1, 1, n))   # varies along width
    v_col = f32(coords.reshape(1, 1, n, 1))   # varies along height
    w_img = np.zeros((120, 3, 1, 1), dtype=np.float32)
    for c in range(120):
        if c % 40 in (0, 1):
            continue  # shape and red channels ignore the picture
        w_img[c, :, 0, 0] = 0.5 * np.array([np.sin(c), np.cos(1.3 * c), np.sin(0.7 * c + 1.0)])
    sphere_mask = np.zeros((1, 120, 1, 1), dtype=np.float32)
    sphere_mask[0, [0, 40, 80]] = 1.0
    cut_mask = np.zeros((1, 120, 1, 1), dtype=np.float32)
    cut_mask[0, [0, 40]] = 1.0
    red_mask = np.zeros((1, 120, 1, 1), dtype=np.float32)
    red_mask[0, 81] = 1.0
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Conv", ["pooled", "w_img"], ["feat"]),                    # [1,120,64,64]
        helper.make_node("Mul", ["u", "u"], ["uu"]),
        helper.make_node("Mul", ["v", "v"], ["vv"]),
        helper.make_node("Add", ["uu", "vv"], ["r2"]),                               # [1,1,64,64]
        helper.make_node("Mul", ["r2", "minus_k"], ["bowl"]),
        helper.make_node("Neg", ["u"], ["mu"]),
        helper.make_node("Sub", ["mu", "cut_at"], ["past"]),
        helper.make_node("Relu", ["past"], ["depth"]),
        helper.make_node("Mul", ["depth", "minus_cut"], ["cut"]),                  # [1,1,1,64]
        helper.make_node("Mul", ["u", "five"], ["red"]),                             # [1,1,1,64]
        helper.make_node("Mul", ["bowl", "sphere_mask"], ["t_bowl"]),                # [1,120,64,64]
        helper.make_node("Mul", ["cut", "cut_mask"], ["t_cut"]),                    # [1,120,1,64]
        helper.make_node("Mul", ["red", "red_mask"], ["t_red"]),                     # [1,120,1,64]
        helper.make_node("Add", ["feat", "t_bowl"], ["a1"]),
        helper.make_node("Add", ["a1", "t_cut"], ["a2"]),
        helper.make_node("Add", ["a2", "t_red"], ["a3"]),
        helper.make_node("Reshape", ["a3", "shape"], ["triplane"]),
    ]
    inits = [init("w_img", w_img), init("u", u_row), init("v", v_col), init("minus_k", f32(-5.0)),
             init("cut_at", f32(0.2)), init("minus_cut", f32(-20.0)),
             init("five", f32(5.0)), init("sphere_mask", sphere_mask),
             init("cut_mask", cut_mask), init("red_mask", red_mask),
             init("shape", i64([1, 3, 40, 64, 64]))]
    save("triposr_object_encoder.onnx", nodes, [vi("image", [1, 3, 512, 512])],
         [vi("triplane", [1, 3, 40, 64, 64])], inits)
    x = det_input((1, 3, 512, 512), 13).astype(np.float64)
    pooled = x.reshape(1, 3, 64, 8, 64, 8).mean(axis=(3, 5))
    feat = np.einsum("oc,nchw->nohw", w_img[:, :, 0, 0].astype(np.float64), pooled)
    u64, v64 = u_row.astype(np.float64), v_col.astype(np.float64)
    bowl = -5.0 * (u64 ** 2 + v64 ** 2)
    cut = -20.0 * np.maximum(0.0, -u64 - 0.2) + 0.0 * v64
    planes = feat + bowl * sphere_mask + cut * cut_mask + 5.0 * u64 * red_mask
    ref["triposr_object_encoder"] = {
        "inputs": [{"shape": [1, 3, 512, 512], "offset": 13, "scale": 1.0, "shift": 0.0}],
        "outputs": [sample(planes.reshape(1, 3, 40, 64, 64))]}

    sizes = [120, 64, 64, 4]
    ws, bs = [], []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        i = np.arange(a, dtype=np.float64)[:, None]
        j = np.arange(b, dtype=np.float64)[None, :]
        w = 0.3 / np.sqrt(a) * np.sin(1.7 * i + 2.3 * j + k)
        bias = 0.05 * np.cos(np.arange(b) + k)
        w[:, 0] = 0.0
        w[:, 1] = 0.0
        if k == 0:
            w[[0, 40, 80], 0] = 1.0
            w[[1, 41, 81], 1] = 1.0
            bias[0] = bias[1] = 10.0
        else:
            w[0, 0] = 1.0
            w[1, 1] = 1.0
            bias[0] = bias[1] = 0.0
        if k == len(sizes) - 2:
            bias[0] = -10.0 + 1.0 + np.log(25.0) + 2.0 * 5.0 * 0.36
            bias[1] = -10.0
        ws.append(f32(w))
        bs.append(f32(bias))
    nodes, inits = [], []
    cur = "features"
    for k, (w, b) in enumerate(zip(ws, bs)):
        inits += [init(f"w{k}", w), init(f"b{k}", b)]
        last = k == len(ws) - 1
        nodes.append(helper.make_node("MatMul", [cur, f"w{k}"], [f"mm{k}"]))
        nodes.append(helper.make_node("Add", [f"mm{k}", f"b{k}"], ["raw" if last else f"lin{k}"]))
        if not last:
            nodes.append(helper.make_node("Sigmoid", [f"lin{k}"], [f"sig{k}"]))
            nodes.append(helper.make_node("Mul", [f"lin{k}", f"sig{k}"], [f"act{k}"]))
            cur = f"act{k}"
    save("triposr_object_decoder.onnx", nodes, [vi("features", ["num_points", 120])],
         [vi("raw", ["num_points", 4])], inits)
    p = 97
    h = det_input((p, 120), 29, 8.0, -4.0).astype(np.float64)
    for k, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if k < len(ws) - 1:
            h = silu(h)
    ref["triposr_object_decoder"] = {"inputs": [{"shape": [p, 120], "offset": 29, "scale": 8.0, "shift": -4.0}],
                                     "outputs": [sample(h)]}


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {"_about": "reference outputs of the tiny test models; generated by tools/gen_test_models.py "
                     "(numpy, float64). Inputs: value(i) = ((i*7919 + offset) % 10007) / 10007 * scale + shift, "
                     "cast to float32."}
    ws, bs = mlp_weights()
    triposr_encoder(ref)
    triposr_decoder_mlp(ref, ws, bs)
    triposr_decoder_field(ref)
    depth_pro(ref)
    segmentation(ref)
    wrong_models()
    depth_pro_scene(ref)
    triposr_object_pair(ref)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()

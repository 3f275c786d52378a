#!/usr/bin/env python3
"""Reference numbers for img23d's Depth Pro pre- and post-processing tests.

The Rust code ports PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` (no
antialias), which is what Apple's `DepthPro.infer` uses (apple/ml-depth-pro,
src/depth_pro/depth_pro.py). To check it against an independent implementation, this script
runs ONNX Runtime's `Resize` operator with `mode="linear"` and
`coordinate_transformation_mode="pytorch_half_pixel"` (the ONNX name for PyTorch's
align_corners=False convention) and `antialias=0`, then applies Apple's formulas with numpy.

Run:  python3 tools/depth_pro_reference.py
Tests that paste its output name this script:
  models/src/depth_pro/preprocess.rs  (taps_match_onnx_resize, preprocess_matches_reference)
  models/src/depth_pro/postprocess.rs (metric_depth_matches_reference)
"""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def ort_resize(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an N x C x H x W float32 array with ONNX Runtime."""
    n, c = x.shape[:2]
    graph = helper.make_graph(
        [
            helper.make_node(
                "Resize",
                ["x", "", "", "sizes"],
                ["y"],
                mode="linear",
                coordinate_transformation_mode="pytorch_half_pixel",
                antialias=0,
            )
        ],
        "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("sizes", TensorProto.INT64, [4], [n, c, *out_hw])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})[0]


def fmt(values) -> str:
    return ", ".join(f"{float(v):.7e}" for v in np.ravel(values))


def main() -> None:
    np.set_printoptions(precision=8)

    # 1. Taps: 1x4 -> 1x8 and 1x8 -> 1x3.
    up = ort_resize(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4), (1, 8))
    down = ort_resize(np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8), (1, 3))
    print("resize 4->8:", fmt(up))
    print("resize 8->3:", fmt(down))

    # 2. Preprocessing of a 5 (wide) x 3 (tall) picture with pixel (u, v) =
    #    ((37*u + 11*v) % 256, (53*u + 7*v + 100) % 256, (19*u*v + 3) % 256):
    #    ToTensor, Normalize(0.5, 0.5), resize to 1536x1536.
    w, h = 5, 3
    img = np.zeros((h, w, 3), dtype=np.uint8)
    for v in range(h):
        for u in range(w):
            img[v, u] = ((37 * u + 11 * v) % 256, (53 * u + 7 * v + 100) % 256, (19 * u * v + 3) % 256)
    x = (img.astype(np.float32) / 255.0 - 0.5) / 0.5
    x = x.transpose(2, 0, 1)[None]
    y = ort_resize(x, (1536, 1536))
    probes = [(0, 0, 0), (0, 700, 901), (1, 1535, 3), (2, 512, 1024), (1, 250, 1300), (2, 1535, 1535)]
    print("preprocess probes (c, y, x):", probes)
    print("preprocess values:", fmt([y[0, c, yy, xx] for c, yy, xx in probes]))

    # 3. Metric depth, Apple's infer(): canonical inverse depth cid(x, y) =
    #    0.2 + 0.6*x/1536 + 0.1*y/1536 at 1536x1536, fov 55 degrees, picture 7 x 5.
    side = 1536
    xs = np.arange(side, dtype=np.float32)
    cid = (0.2 + 0.6 * xs[None, :] / side + 0.1 * xs[:, None] / side).astype(np.float32)
    fov = np.float32(55.0)
    W, H = 7, 5
    f_px = np.float32(0.5 * W / np.tan(0.5 * np.deg2rad(fov)))
    inv = (cid * np.float32(W / f_px)).astype(np.float32)
    inv = ort_resize(inv[None, None], (H, W))[0, 0]
    depth = 1.0 / np.clip(inv, 1e-4, 1e4)
    print(f"metric f_px: {f_px:.7e}")
    print("metric depth 7x5:", fmt(depth))


if __name__ == "__main__":
    main()

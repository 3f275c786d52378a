#!/usr/bin/env python3
"""Generate a Depth Pro-sized ONNX network with random fixed weights, for GPU timing.

Same inputs and outputs as Apple's Depth Pro exported as is (img23d's canonical layout,
img23d_models::contracts::DEPTH_PRO_CANONICAL): pixel_values float32 [1,3,1536,1536] ->
canonical_inverse_depth float32 [1,1,1536,1536] and fov_deg float32 [1,1,1,1]. The cost
follows the structure of apple/ml-depth-pro (src/depth_pro/network/encoder.py, decoder.py,
fov.py; shared/reference/depthpro.md section 1.1):

* image pyramid 1536 / 768 / 384 (bilinear), cut into 5x5 tiles of 384 with stride 288,
  3x3 tiles with stride 192, and 1 tile: 35 patches;
* ViT-L/16 at 384 (24 blocks, width 1024, 16 heads, MLP 4096, 577 tokens, LayerScale) on
  the 35 patches + the global image + the FOV view: 37 passes in one batch (the real model
  has three ViT-L weight sets; one is used here, which costs the same compute);
* patch features merged back into 96x96 / 48x48 / 24x24 maps, projected to 256 channels;
* a DPT-like decoder with two 3x3 residual convolutions per fusion level at 24, 48, 96,
  192, 384 and 768 pixels (256 channels), then the head: 3x3 conv 256->128 at 768,
  ConvTranspose x2 to 1536, 3x3 conv 128->32, ReLU, 1x1 conv 32->1, ReLU;
* the FOV head: the FOV pass's class token -> linear -> degrees.

The weights are random (seeded), so the outputs mean nothing: this is for timing only.
The printed FLOP count (multiply-adds x 2) lets timings be compared with the real model
(about 952 M parameters; Apple quotes 0.3 s on a V100).

Usage:
  python3 tools/gen_depth_pro_sized.py OUT.onnx [--fp16] [--layers 24] [--width 1024]
      [--heads 16] [--mlp 4096] [--decoder 256] [--shared-weights]
A small variant for checking the graph on a CPU (same I/O, seconds to run):
  python3 tools/gen_depth_pro_sized.py small.onnx --layers 1 --width 64 --heads 2 --mlp 128 --decoder 16
Weights go to OUT.onnx.data (ONNX external data) when they exceed 1.5 GB.
Needs numpy and onnx (no internet, no torch).
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIDE = 1536
TILE = 384
PATCH = 16
GRID = TILE // PATCH  # 24


class Graph:
    def __init__(self, dtype, seed):
        self.nodes, self.inits, self.n = [], [], 0
        self.np_dtype = np.float16 if dtype == "fp16" else np.float32
        self.onnx_dtype = TensorProto.FLOAT16 if dtype == "fp16" else TensorProto.FLOAT
        self.rng = np.random.default_rng(seed)
        self.flops = 0
        self.params = 0
        self.cache = {}

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="c"):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def weight(self, shape, scale, key=None):
        """A random float weight; `key` shares one tensor between uses."""
        if key is not None and key in self.cache:
            return self.cache[key]
        a = (self.rng.standard_normal(shape, dtype=np.float32) * scale).astype(self.np_dtype)
        self.params += a.size
        n = self.const(a, "w")
        if key is not None:
            self.cache[key] = n
        return n

    def fconst(self, value):
        return self.const(np.asarray(value, dtype=self.np_dtype))

    def i64(self, values):
        return self.const(np.asarray(values, dtype=np.int64))

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def ops(self, op_type, inputs, count, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(count)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs


def conv(g, x, cin, cout, k, hw, stride=1, key=None):
    w = g.weight((cout, cin, k, k), (2.0 / (cin * k * k)) ** 0.5, key)
    b = g.weight((cout,), 0.01, None if key is None else key + "_b")
    out_hw = hw // stride
    g.flops += 2 * cin * cout * k * k * out_hw * out_hw
    return g.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride],
                pads=[k // 2] * 4 if stride == 1 else [0, 0, 0, 0])


def resize(g, x, scale, mode="linear"):
    scales = g.const(np.asarray([1, 1, scale, scale], dtype=np.float32))
    return g.op("Resize", [x, "", scales], mode=mode,
                coordinate_transformation_mode="pytorch_half_pixel")


def vit_block(g, x, tokens, batch, width, heads, mlp, layer, shared):
    key = (lambda s: f"blk_{s}") if shared else (lambda s: f"blk{layer}_{s}")
    d = width // heads
    ln1 = g.op("LayerNormalization", [x, g.weight((width,), 0.1, key("ln1g")),
                                      g.weight((width,), 0.1, key("ln1b"))], axis=-1, epsilon=1e-6)
    qkv = g.op("Add", [g.op("MatMul", [ln1, g.weight((width, 3 * width), width ** -0.5, key("qkv"))]),
                       g.weight((3 * width,), 0.01, key("qkvb"))])
    qkv = g.op("Reshape", [qkv, g.i64([batch, tokens, 3, heads, d])])
    qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])
    q, k, v = g.ops("Split", [qkv], 3, axis=0, num_outputs=3)
    axis0 = g.i64([0])
    q, k, v = (g.op("Squeeze", [t, axis0]) for t in (q, k, v))
    s = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    s = g.op("Mul", [s, g.fconst(d ** -0.5)])
    a = g.op("MatMul", [g.op("Softmax", [s], axis=-1), v])
    a = g.op("Reshape", [g.op("Transpose", [a], perm=[0, 2, 1, 3]), g.i64([batch, tokens, width])])
    a = g.op("Add", [g.op("MatMul", [a, g.weight((width, width), width ** -0.5, key("proj"))]),
                     g.weight((width,), 0.01, key("projb"))])
    x = g.op("Add", [x, g.op("Mul", [a, g.weight((width,), 0.1, key("ls1"))])])
    ln2 = g.op("LayerNormalization", [x, g.weight((width,), 0.1, key("ln2g")),
                                      g.weight((width,), 0.1, key("ln2b"))], axis=-1, epsilon=1e-6)
    h = g.op("Add", [g.op("MatMul", [ln2, g.weight((width, mlp), width ** -0.5, key("fc1"))]),
                     g.weight((mlp,), 0.01, key("fc1b"))])
    # GELU (erf form; ONNX Runtime fuses it).
    e = g.op("Erf", [g.op("Mul", [h, g.fconst(2 ** -0.5)])])
    h = g.op("Mul", [g.op("Mul", [h, g.fconst(0.5)]), g.op("Add", [e, g.fconst(1.0)])])
    h = g.op("Add", [g.op("MatMul", [h, g.weight((mlp, width), mlp ** -0.5, key("fc2"))]),
                     g.weight((width,), 0.01, key("fc2b"))])
    x = g.op("Add", [x, g.op("Mul", [h, g.weight((width,), 0.1, key("ls2"))])])
    n = batch * tokens
    g.flops += 2 * n * width * (3 * width + width + 2 * mlp) + 2 * 2 * batch * heads * tokens * tokens * d
    return x


def merge_tiles(g, feats, start, n, grid_tiles, crop, width):
    """Tiles [start, start + n) of feats [B, width, 24, 24] merged into one map and
    cropped to `crop` (the overlaps Depth Pro's merge removes)."""
    t = g.op("Slice", [feats, g.i64([start]), g.i64([start + n]), g.i64([0])])
    t = g.op("Reshape", [t, g.i64([grid_tiles, grid_tiles, width, GRID, GRID])])
    t = g.op("Transpose", [t], perm=[2, 0, 3, 1, 4])
    side = grid_tiles * GRID
    t = g.op("Reshape", [t, g.i64([1, width, side, side])])
    lo = (side - crop) // 2
    return g.op("Slice", [t, g.i64([lo, lo]), g.i64([lo + crop, lo + crop]), g.i64([2, 3])])


def residual_unit(g, x, ch, hw, key):
    h = conv(g, g.op("Relu", [x]), ch, ch, 3, hw, key=key + "a")
    h = conv(g, g.op("Relu", [h]), ch, ch, 3, hw, key=key + "b")
    return g.op("Add", [x, h])


def build(args):
    g = Graph("fp16" if args.fp16 else "fp32", args.seed)
    width, heads, mlp, dec = args.width, args.heads, args.mlp, args.decoder
    x = "pixel_values"
    if args.fp16:
        x = g.op("Cast", [x], to=TensorProto.FLOAT16)
    # Pyramid and tiles.
    x1 = resize(g, x, 0.5)
    x2 = resize(g, x, 0.25)
    tiles = []
    for level, (img, steps, stride) in enumerate([(x, 5, 288), (x1, 3, 192)]):
        for r in range(steps):
            for c in range(steps):
                tiles.append(g.op("Slice", [img, g.i64([r * stride, c * stride]),
                                            g.i64([r * stride + TILE, c * stride + TILE]), g.i64([2, 3])]))
    tiles += [x2, x2, x2]  # level-2 patch, the image encoder's view, the FOV encoder's view
    batch = len(tiles)  # 37
    t = g.op("Concat", tiles, axis=0)
    # ViT-L/16.
    t = conv(g, t, 3, width, PATCH, TILE, stride=PATCH)  # [B, width, 24, 24] (counts one image)
    g.flops += (batch - 1) * 2 * 3 * width * PATCH * PATCH * GRID * GRID
    t = g.op("Transpose", [g.op("Reshape", [t, g.i64([batch, width, GRID * GRID])])], perm=[0, 2, 1])
    cls = g.op("Expand", [g.weight((1, 1, width), 0.02), g.i64([batch, 1, width])])
    t = g.op("Concat", [cls, t], axis=1)
    tokens = GRID * GRID + 1
    t = g.op("Add", [t, g.weight((1, tokens, width), 0.02)])
    for layer in range(args.layers):
        t = vit_block(g, t, tokens, batch, width, heads, mlp, layer, args.shared_weights)
    t = g.op("LayerNormalization", [t, g.weight((width,), 0.1), g.weight((width,), 0.1)], axis=-1, epsilon=1e-6)
    # FOV head on the FOV pass's class token.
    fcls = g.op("Slice", [t, g.i64([batch - 1, 0]), g.i64([batch, 1]), g.i64([0, 1])])  # [1,1,width]
    fov = g.op("Add", [g.op("MatMul", [fcls, g.weight((width, 1), width ** -0.5)]), g.fconst(50.0)])
    fov = g.op("Reshape", [fov, g.i64([1, 1, 1, 1])])
    # Feature maps.
    f = g.op("Slice", [t, g.i64([1]), g.i64([tokens]), g.i64([1])])
    f = g.op("Reshape", [g.op("Transpose", [f], perm=[0, 2, 1]), g.i64([batch, width, GRID, GRID])])
    lvl0 = merge_tiles(g, f, 0, 25, 5, 96, width)  # [1, width, 96, 96]
    lvl1 = merge_tiles(g, f, 25, 9, 3, 48, width)  # [1, width, 48, 48]
    lvl2 = g.op("Add", [g.op("Slice", [f, g.i64([34]), g.i64([35]), g.i64([0])]),
                        g.op("Slice", [f, g.i64([35]), g.i64([36]), g.i64([0])])])
    p0 = conv(g, lvl0, width, dec, 1, 96)
    p1 = conv(g, lvl1, width, dec, 1, 48)
    p2 = conv(g, lvl2, width, dec, 1, 24)
    # DPT-like fusion up to 768.
    y = residual_unit(g, p2, dec, 24, "f24")
    y = resize(g, y, 2.0)
    y = residual_unit(g, g.op("Add", [y, p1]), dec, 48, "f48")
    y = resize(g, y, 2.0)
    y = residual_unit(g, g.op("Add", [y, p0]), dec, 96, "f96")
    for hw in (192, 384, 768):
        y = resize(g, y, 2.0)
        y = residual_unit(g, y, dec, hw, f"f{hw}")
    # Head.
    half = max(dec // 2, 1)
    y = conv(g, y, dec, half, 3, 768)
    wt = g.weight((half, half, 2, 2), (2.0 / (half * 4)) ** 0.5)
    y = g.op("ConvTranspose", [y, wt], strides=[2, 2], kernel_shape=[2, 2])
    g.flops += 2 * half * half * 4 * 768 * 768
    y = g.op("Relu", [conv(g, y, half, 32, 3, SIDE)])
    y = g.op("Relu", [conv(g, y, 32, 1, 1, SIDE)])
    if args.fp16:
        y = g.op("Cast", [y], to=TensorProto.FLOAT)
        fov = g.op("Cast", [fov], to=TensorProto.FLOAT)
    g.nodes.append(helper.make_node("Identity", [y], ["canonical_inverse_depth"]))
    g.nodes.append(helper.make_node("Identity", [fov], ["fov_deg"]))
    graph = helper.make_graph(
        g.nodes, "depth_pro_sized",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("canonical_inverse_depth", TensorProto.FLOAT, [1, 1, SIDE, SIDE]),
         helper.make_tensor_value_info("fov_deg", TensorProto.FLOAT, [1, 1, 1, 1])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="img23d tools/gen_depth_pro_sized.py")
    model.ir_version = 8
    return model, g


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--fp16", action="store_true", help="fp16 weights and compute (float32 I/O)")
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--mlp", type=int, default=4096)
    p.add_argument("--decoder", type=int, default=256)
    p.add_argument("--shared-weights", action="store_true",
                   help="one weight set for all ViT blocks (same compute, smaller file)")
    p.add_argument("--seed", type=int, default=20241004)
    args = p.parse_args()
    model, g = build(args)
    nbytes = sum(t.ByteSize() for t in model.graph.initializer)
    external = nbytes > 1.5e9
    out = os.path.abspath(args.out)
    if external:
        data = os.path.basename(out) + ".data"
        onnx.save_model(model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=1024)
    else:
        onnx.save_model(model, out)
    onnx.checker.check_model(out)
    print(f"wrote {out}{' (+ ' + data + ')' if external else ''}: {g.params / 1e6:.1f} M parameters, "
          f"{nbytes / 1e9:.2f} GB of weights, {'fp16' if args.fp16 else 'fp32'}, "
          f"{g.flops / 1e12:.2f} TFLOP per image")


if __name__ == "__main__":
    main()

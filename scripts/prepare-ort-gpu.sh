#!/usr/bin/env bash
# Prepares, on a machine WITH internet (the development machine), what scripts/gpu-check.sh
# needs on a GPU machine WITHOUT internet:
#
#   .ort-gpu/onnxruntime-gpu-1.31.1.tar.xz.part-aa, -ab, ...   the ONNX Runtime CUDA 13 libraries
#                        (onnxruntime/capi/*.so* of the onnxruntime-gpu==1.31.1 wheel), as one
#                        tar, xz compressed (XZ_LEVEL, default 6), split into PIECE_MB (55) MB pieces
#   .ort-gpu/SHA256SUMS  sha256 of every piece and of the whole .tar.xz
#   .ort-gpu/bin/gpu_check   the check program, built here in release mode with --features cuda
#   .ort-gpu/bin/depth_pro_timing   the Depth Pro timing program (same build)
#                        and stripped (it links nothing from ONNX Runtime or CUDA: load-dynamic)
#
# .ort-gpu/ is git-ignored. Carry each piece (and bin/gpu_check, ~1 MB) to the GPU machine as
# its own file, then run `bash scripts/gpu-check.sh` there: it reassembles the pieces into
# .ort-gpu/lib/.
#
# Usage: bash scripts/prepare-ort-gpu.sh [--no-build]      (PIECE_MB=55 by default)
set -euo pipefail

VERSION=1.31.1
PIECE_MB=${PIECE_MB:-55}
XZ_LEVEL=${XZ_LEVEL:-6}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/.ort-gpu"
WHL="$ROOT/.whl"
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0

mkdir -p "$OUT" "$WHL"
echo "== downloading onnxruntime-gpu==$VERSION (manylinux_2_28_x86_64, cp312) into $WHL"
python3 -m pip download "onnxruntime-gpu==$VERSION" --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_28_x86_64 --implementation cp -d "$WHL" -q
wheel=$(ls "$WHL"/onnxruntime_gpu-"$VERSION"-*.whl | head -n1)
echo "   $wheel ($(du -h "$wheel" | cut -f1))"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
echo "== extracting onnxruntime/capi/*.so*"
python3 - "$wheel" "$stage/lib" <<'PY'
import os, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if n.startswith("onnxruntime/capi/") and ".so" in base and not base.startswith("onnxruntime_pybind11"):
            with z.open(n) as src, open(os.path.join(dest, base), "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            print(f"   {base} {os.path.getsize(os.path.join(dest, base)) / 1e6:.1f} MB")
PY
test -f "$stage/lib/libonnxruntime.so.$VERSION" || { echo "libonnxruntime.so.$VERSION missing from the wheel"; exit 1; }
test -f "$stage/lib/libonnxruntime_providers_cuda.so" || { echo "libonnxruntime_providers_cuda.so missing from the wheel"; exit 1; }

echo "== compressing (xz -$XZ_LEVEL, a few minutes) and splitting into ${PIECE_MB} MB pieces"
rm -f "$OUT"/onnxruntime-gpu-*.tar.xz.part-* "$OUT/SHA256SUMS"
tar -C "$stage/lib" -cf - . | xz "-$XZ_LEVEL" -T0 -c > "$stage/ort.tar.xz"
(cd "$stage" && split -b "${PIECE_MB}m" -a 2 ort.tar.xz "$OUT/onnxruntime-gpu-$VERSION.tar.xz.part-")
(
    cd "$OUT"
    sha256sum onnxruntime-gpu-"$VERSION".tar.xz.part-* > SHA256SUMS
    echo "$(sha256sum < "$stage/ort.tar.xz" | cut -d' ' -f1)  onnxruntime-gpu-$VERSION.tar.xz" >> SHA256SUMS
)
ls -l "$OUT"/onnxruntime-gpu-*.part-*

if [[ $BUILD == 1 ]]; then
    echo "== building the check program (release, --features cuda)"
    (cd "$ROOT" && cargo build --release -p img23d-models --features cuda --example gpu_check)
    mkdir -p "$OUT/bin"
    cp "$ROOT/target/release/examples/gpu_check" "$OUT/bin/gpu_check"
    command -v strip >/dev/null && strip "$OUT/bin/gpu_check"
    ls -l "$OUT/bin/gpu_check"
    # The Depth Pro timing program (scripts/gpu-check.sh times a Depth Pro-sized network).
    (cd "$ROOT" && cargo build --release -p img23d-models --features cuda --example depth_pro_timing)
    cp "$ROOT/target/release/examples/depth_pro_timing" "$OUT/bin/depth_pro_timing"
    command -v strip >/dev/null && strip "$OUT/bin/depth_pro_timing"
    ls -l "$OUT/bin/depth_pro_timing"
    # TripoSR's field bench (scripts/gpu-check-triposr.sh) and the command itself (doctor,
    # the main job on --device auto; the default build has the cuda feature).
    (cd "$ROOT" && cargo build --release -p img23d-models --features cuda --example triposr_decoder_bench)
    cp "$ROOT/target/release/examples/triposr_decoder_bench" "$OUT/bin/triposr_decoder_bench"
    (cd "$ROOT" && cargo build --release --bin img23d)
    cp "$ROOT/target/release/img23d" "$OUT/bin/img23d"
    command -v strip >/dev/null && strip "$OUT/bin/triposr_decoder_bench" "$OUT/bin/img23d"
    ls -l "$OUT/bin/triposr_decoder_bench" "$OUT/bin/img23d"
fi
echo "== done. Carry to the GPU machine, one call per piece:"
for f in "$OUT"/onnxruntime-gpu-*.part-* "$OUT/SHA256SUMS" "$OUT/bin"; do
    [[ -e "$f" ]] && echo "   ${f#"$ROOT"/}"
done
echo "then run: bash scripts/gpu-check.sh"

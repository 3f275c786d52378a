#!/usr/bin/env bash
# TripoSR's field on a GPU (called by scripts/gpu-check.sh, or alone):
#   bash scripts/gpu-check-triposr.sh /path/to/libonnxruntime.so.1.31.1 (of onnxruntime-gpu)
# Finds the bench program (.ort-gpu/bin/triposr_decoder_bench carried from a build machine,
# target/release/examples/triposr_decoder_bench, or builds it with cargo --features cuda),
# then prints points per second of every evaluation path on CUDA and the 256^3 and 512^3
# coarse-to-fine extraction times, and the same on the CPU for comparison.
# TRIPOSR_POINTS (default 1048576) and TRIPOSR_EXTRACT (default 256,512) tune it.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORTLIB=${1:-${ORT_GPU_LIB:-}}
[[ -n "$ORTLIB" && -f "$ORTLIB" ]] || { echo "usage: $0 /path/to/libonnxruntime.so.1.31.1"; exit 2; }
BIN=""
for b in "$ROOT/.ort-gpu/bin/triposr_decoder_bench" "$ROOT/target/release/examples/triposr_decoder_bench"; do
    if [[ -x "$b" ]]; then BIN="$b"; break; fi
done
if [[ -z "$BIN" ]]; then
    command -v cargo >/dev/null || { echo "  no .ort-gpu/bin/triposr_decoder_bench and no cargo to build it"; exit 1; }
    echo "  building: cargo build --release -p img23d-models --features cuda --example triposr_decoder_bench"
    (cd "$ROOT" && timeout 600 cargo build --offline --release -p img23d-models --features cuda \
        --example triposr_decoder_bench) || exit 1
    BIN="$ROOT/target/release/examples/triposr_decoder_bench"
fi
echo "  $BIN"
rc=0
timeout 300 "$BIN" --ort-lib "$ORTLIB" --device cuda --points "${TRIPOSR_POINTS:-1048576}" \
    --repeat 5 --extract "${TRIPOSR_EXTRACT:-256,512}" || rc=$?
echo "  --- the same on this machine's CPU ($(nproc) cores), for comparison"
timeout 300 "$BIN" --ort-lib "$ORTLIB" --device cpu --points 262144 --repeat 3 --extract 256 || true
exit $rc

#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9 (no internet needed).
#
# It (1) reassembles the ONNX Runtime CUDA libraries from .ort-gpu/ (made by
# scripts/prepare-ort-gpu.sh) unless they are already there, (2) finds the check program
# (.ort-gpu/bin/gpu_check carried from a build machine, target/release/examples/gpu_check,
# or builds it with cargo if cargo is installed), (3) runs the tiny models of
# models/tests/data on CPU and CUDA: outputs compared, the execution provider of every node
# printed, load and run times, (4) times a Depth Pro-sized network on CUDA (generated here
# with random weights; .ort-gpu/bin/depth_pro_timing), (5) TripoSR's field on CUDA, (6) the
# main job on --device auto with the tiny models, and a PASS/FAIL summary. `img23d doctor`
# runs first (.ort-gpu/bin/img23d). Exit status 0 when all passed.
#
# Expected layout (all git-ignored):
#   .ort-gpu/onnxruntime-gpu-1.31.1.tar.xz.part-aa, -ab, ...   pieces of one tar.xz
#   .ort-gpu/SHA256SUMS                                       (optional) checks the pieces
#   .ort-gpu/bin/gpu_check                                    (optional) prebuilt program
#   .ort-gpu/bin/img23d                                       (optional) the command (doctor,
#                                                              main job on the GPU)
#   .ort-gpu/lib/                                             where the libraries land:
#        libonnxruntime.so.1.31.1, libonnxruntime_providers_shared.so,
#        libonnxruntime_providers_cuda.so, libonnxruntime_providers_tensorrt.so
# Or point ORT_GPU_LIB at an existing libonnxruntime.so.1.31.1 of onnxruntime-gpu.
#
# Usage: bash scripts/gpu-check.sh [extra gpu_check args, e.g. --device cuda:1 --iters 50]
set -uo pipefail

VERSION=1.31.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU="$ROOT/.ort-gpu"
LIBDIR="$GPU/lib"
T0=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - T0 )) s)"; }
fail() { echo; echo "GPU CHECK: FAIL — $*"; exit 1; }

step "machine"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    nvidia-smi | grep -m1 "CUDA Version" || true
else
    echo "nvidia-smi not found"
fi
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcufft.so.12 libcurand.so.10 libcudnn.so.9; do
    where=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1==l {print $NF; exit}')
    printf '  %-22s %s\n' "$lib" "${where:-not in ld.so cache}"
done

step "ONNX Runtime CUDA libraries"
if [[ -n "${ORT_GPU_LIB:-}" ]]; then
    ORTLIB="$ORT_GPU_LIB"
elif [[ -f "$LIBDIR/libonnxruntime.so.$VERSION" && -f "$LIBDIR/libonnxruntime_providers_cuda.so" ]]; then
    ORTLIB="$LIBDIR/libonnxruntime.so.$VERSION"
    echo "  already unpacked in ${LIBDIR#"$ROOT"/}"
else
    shopt -s nullglob
    pieces=("$GPU"/onnxruntime-gpu-"$VERSION".tar.xz.part-*)
    shopt -u nullglob
    [[ ${#pieces[@]} -gt 0 ]] || fail "no .ort-gpu/onnxruntime-gpu-$VERSION.tar.xz.part-* pieces and no ORT_GPU_LIB (run scripts/prepare-ort-gpu.sh on a machine with internet and carry .ort-gpu/)"
    echo "  ${#pieces[@]} piece(s): $(du -ch "${pieces[@]}" | tail -n1 | cut -f1)"
    if [[ -f "$GPU/SHA256SUMS" ]] && command -v sha256sum >/dev/null; then
        (cd "$GPU" && grep 'part-' SHA256SUMS | sha256sum -c --quiet -) || fail "a piece is damaged or missing (SHA256SUMS)"
        echo "  pieces match SHA256SUMS"
    fi
    mkdir -p "$LIBDIR"
    if command -v xz >/dev/null; then
        cat "${pieces[@]}" | xz -dc | tar -x -C "$LIBDIR" || fail "unpacking failed"
    else
        cat "${pieces[@]}" | python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))' \
            | tar -x -C "$LIBDIR" || fail "unpacking failed (python lzma)"
    fi
    ORTLIB="$LIBDIR/libonnxruntime.so.$VERSION"
fi
[[ -f "$ORTLIB" ]] || fail "missing $ORTLIB"
ls -l "$(dirname "$ORTLIB")" | grep -E 'libonnxruntime' || true

# CUDA, cuDNN and cuBLAS: the system's, plus pip nvidia-* wheels when present.
extra="$(dirname "$ORTLIB")"
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [[ -d "$d" ]] && extra="$extra:$d"
done
for d in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    for l in "$d"/nvidia/*/lib; do [[ -d "$l" ]] && extra="$extra:$l"; done
done
export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "  LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
if command -v ldd >/dev/null; then
    missing=$(ldd "$(dirname "$ORTLIB")/libonnxruntime_providers_cuda.so" 2>/dev/null | grep 'not found' || true)
    if [[ -n "$missing" ]]; then echo "  the CUDA provider misses:"; echo "$missing"; else echo "  libonnxruntime_providers_cuda.so: all dependencies resolve"; fi
fi

# img23d doctor first: what the command itself sees on this machine (library, providers
# that start, GPUs, the CUDA libraries as the loader resolves them, --device auto's pick).
IMG=""
for b in "$GPU/bin/img23d" "$ROOT/target/release/img23d"; do
    if [[ -x "$b" ]]; then IMG="$b"; break; fi
done
if [[ -n "$IMG" ]]; then
    step "img23d doctor"
    "$IMG" doctor --ort-lib "$ORTLIB"
    echo "  (doctor exit status $?)"
    if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
        "$IMG" doctor --ort-lib "$ORTLIB" --json > "$OUT/doctor.json" 2>/dev/null || true
    fi
else
    echo "  no img23d binary (.ort-gpu/bin/img23d or target/release/img23d): doctor skipped"
fi

step "check program"
BIN=""
for b in "$GPU/bin/gpu_check" "$ROOT/target/release/examples/gpu_check"; do
    if [[ -x "$b" ]]; then BIN="$b"; break; fi
done
if [[ -z "$BIN" ]]; then
    command -v cargo >/dev/null || fail "no prebuilt gpu_check (.ort-gpu/bin/gpu_check) and no cargo to build one"
    echo "  building: cargo build --release -p img23d-models --features cuda --example gpu_check"
    (cd "$ROOT" && timeout 600 cargo build --offline --release -p img23d-models --features cuda --example gpu_check) || fail "build failed"
    BIN="$ROOT/target/release/examples/gpu_check"
fi
echo "  $BIN"

step "running (CPU vs CUDA)"
timeout 240 "$BIN" --ort-lib "$ORTLIB" --data "$ROOT/models/tests/data" "$@"
rc=$?

# Depth Pro-sized network: Depth Pro's inputs, outputs and cost (37 ViT-L/16 passes at 384,
# DPT-like decoder to 1536) with random fixed weights, generated here by
# tools/gen_depth_pro_sized.py (numpy + onnx, no download; ~0.6 GB fp16, ~1.2 GB fp32, kept
# in .ort-gpu/depth_pro_sized/ for later runs), then timed on CUDA by depth_pro_timing:
# preprocessing, network (first run and median) and post-processing of a 4032x3024 photo.
# DEPTH_PRO_TIMING=0 skips it; DEPTH_PRO_PRECISIONS="fp16" times fp16 only.
if [[ "${DEPTH_PRO_TIMING:-1}" != 0 ]]; then
    step "Depth Pro-sized network on CUDA (random fixed weights)"
    DPBIN=""
    for b in "$GPU/bin/depth_pro_timing" "$ROOT/target/release/examples/depth_pro_timing"; do
        if [[ -x "$b" ]]; then DPBIN="$b"; break; fi
    done
    if [[ -z "$DPBIN" ]] && command -v cargo >/dev/null; then
        echo "  building: cargo build --release -p img23d-models --features cuda --example depth_pro_timing"
        (cd "$ROOT" && timeout 600 cargo build --offline --release -p img23d-models --features cuda --example depth_pro_timing) \
            && DPBIN="$ROOT/target/release/examples/depth_pro_timing"
    fi
    dprc=0
    if [[ -z "$DPBIN" ]]; then
        echo "  no .ort-gpu/bin/depth_pro_timing and no cargo to build it"
        dprc=1
    else
        DPDIR="$GPU/depth_pro_sized"
        mkdir -p "$DPDIR"
        files=()
        for p in ${DEPTH_PRO_PRECISIONS:-fp16 fp32}; do
            f="$DPDIR/depth_pro_sized_$p.onnx"
            if [[ ! -f "$f" ]]; then
                flag=""
                [[ $p == fp16 ]] && flag="--fp16"
                timeout 300 python3 "$ROOT/tools/gen_depth_pro_sized.py" "$f" $flag || { dprc=1; continue; }
            fi
            files+=("$f")
        done
        if [[ ${#files[@]} -gt 0 ]]; then
            timeout 300 "$DPBIN" --ort-lib "$ORTLIB" --device "${DEPTH_PRO_DEVICE:-cuda:0}" \
                --iters "${DEPTH_PRO_ITERS:-5}" "${files[@]}" || dprc=$?
        fi
    fi
    [[ $dprc -ne 0 ]] && echo "  Depth Pro timing: FAIL (exit $dprc)"
    [[ $rc -eq 0 && $dprc -ne 0 ]] && rc=$dprc
fi

# TripoSR's field on CUDA (tests/triposr area): points per second of each evaluation path
# (planes sampled in Rust, the MLP in ONNX Runtime on CUDA; plain vs first layer folded)
# and the coarse-to-fine extraction time at 256^3 and 512^3, with a TripoSR-sized decoder
# of fixed weights (img23d_models::triposr::synthetic), then the same on this machine's
# CPU for comparison. TRIPOSR_BENCH=0 skips it.
if [[ "${TRIPOSR_BENCH:-1}" != 0 ]]; then
    step "TripoSR field on CUDA (TripoSR-sized decoder, fixed weights)"
    bash "$ROOT/scripts/gpu-check-triposr.sh" "$ORTLIB"
    trc=$?
    [[ $trc -ne 0 ]] && echo "  TripoSR bench: FAIL (exit $trc)"
    [[ $rc -eq 0 && $trc -ne 0 ]] && rc=$trc
fi

# The main job end to end with the tiny TripoSR and segmentation models of
# models/tests/data (contract-identical, not real weights): --device auto must put every
# session on CUDA and the report must say so. MAIN_JOB=0 skips it.
if [[ "${MAIN_JOB:-1}" != 0 && -n "$IMG" ]]; then
    step "img23d IMAGE on --device auto (tiny TripoSR + segmentation models)"
    M=$(mktemp -d)
    mkdir -p "$M/triposr-encoder" "$M/triposr-decoder" "$M/birefnet-lite"
    cp "$ROOT/models/tests/data/triposr_object_encoder.onnx" "$M/triposr-encoder/triposr_encoder.onnx"
    cp "$ROOT/models/tests/data/triposr_object_decoder.onnx" "$M/triposr-decoder/triposr_decoder.onnx"
    cp "$ROOT/models/tests/data/segmentation.onnx" "$M/birefnet-lite/model.onnx"
    mjrc=0
    for dev in auto cpu; do
        timeout 180 "$IMG" "$ROOT/examples/chair.png" -o "$M/out-$dev" --models-dir "$M" \
            --ort-lib "$ORTLIB" --device "$dev" --model triposr --resolution 192 || mjrc=$?
        rep="$M/out-$dev/chair.report.json"
        if [[ -f "$rep" ]]; then
            echo "  --device $dev: execution providers in the report:"
            grep -o '"execution_provider": *"[^"]*"' "$rep" | sort | uniq -c | sed 's/^/    /'
            [[ -n "${OUT:-}" && -d "${OUT:-}" ]] && cp "$rep" "$OUT/main-job-$dev.report.json"
        else
            echo "  --device $dev: no report"; mjrc=1
        fi
    done
    if [[ -f "$M/out-auto/chair.report.json" ]] && ! grep -q '"execution_provider": *"CUDA' "$M/out-auto/chair.report.json"; then
        echo "  --device auto did not run on CUDA"; mjrc=1
    fi
    [[ $mjrc -ne 0 ]] && echo "  main job: FAIL (exit $mjrc)"
    [[ $rc -eq 0 && $mjrc -ne 0 ]] && rc=$mjrc
    rm -rf "$M"
fi

echo
if [[ $rc -eq 0 ]]; then
    echo "GPU CHECK: PASS ($(( $(date +%s) - T0 )) s)"
else
    [[ $rc -eq 124 ]] && echo "(timed out after 240 s)"
    echo "GPU CHECK: FAIL (exit $rc, $(( $(date +%s) - T0 )) s)"
fi
exit $rc

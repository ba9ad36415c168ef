#!/usr/bin/env bash
# One GPU session, in one device call: the CUDA tests, then the diffusers benchmarks in priority
# order, all inside BUDGET seconds (default 520), every step under its own `timeout`.
#
#   bash bench/gpu_session.sh            # on the GPU machine, with $OUT set, carrying .whl
#   bash bench/gpu_session.sh --tiny     # anywhere: the same steps on tiny CPU models
#
# The GPU machine has torch (CUDA), transformers, accelerate, pytest, opencv and pillow but no
# diffusers, ftfy (Wan's prompt cleaning), wcwidth (ftfy's), av (PyAV: the MP4 writer) or pydantic
# (with pydantic-core, annotated-types, typing-inspection and typing-extensions: the catalog's
# data files are checked with it): those travel as wheels in .whl/ (cp312, x86-64) and are
# installed into /tmp/site. Nothing else of the server is imported on this path (no FastAPI or
# SQLAlchemy).
#
# Everything lands in $OUT as it is produced (a step cut short keeps what it wrote): log.txt (the
# whole log) and one JSON per benchmark. The times beside each step were measured in the first
# H200 session (2026-12-04, bench/RESULTS.md) or, where marked, estimated from them.
set -uo pipefail
cd "$(dirname "$0")/.."

TINY=0
[[ "${1:-}" == "--tiny" ]] && TINY=1
BUDGET=${BUDGET:-520}
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
OUT=${OUT:-/tmp/vidgen-gpu-out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
START=$(date +%s)
# No network there: nothing may wait on the hub.
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }

# run NAME LIMIT CMD…: CMD under `timeout`, at most LIMIT seconds and never past the budget
# (10 s kept for the end); skipped when less than 20 s would be left for it.
run() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - 10 - ($(date +%s) - START)))
    ((limit > left)) && limit=$left
    if ((limit < 20)); then
        say "SKIPPED $name: ${left} s of the ${BUDGET} s budget left"
        return 0
    fi
    say "START $name (limit ${limit} s): $*"
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    ((rc == 124 || rc == 137)) && say "TIMED OUT $name after ${limit} s" || say "END $name: exit $rc"
}

say "gpu_session: budget ${BUDGET} s, tiny=${TINY}, out=${OUT}"

# -- 0. wheels and versions (estimate: 10 s) -------------------------------------------------
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl 2>&1 | tee -a "$LOG"
export PYTHONPATH=/tmp/site:$PWD
{ nvidia-smi || echo "no nvidia-smi"; } 2>&1 | tee -a "$LOG"
"$PYTHON" - <<'EOF' 2>&1 | tee -a "$LOG"
import platform, torch, transformers, accelerate, diffusers, av
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "transformers", transformers.__version__, "accelerate", accelerate.__version__,
      "diffusers", diffusers.__version__, "av", av.__version__)
print("gpu:", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
EOF

# Timed steps: 6 for Wan 480p, lossless and lossy alike (the lossy variants are compared with the
# lossless step's plain frames, same seed, shape and steps). A step cache skips work only after its
# warm-up: TaylorSeer (diffusers' defaults: cache_interval 5, disable_cache_before_step 3) runs
# steps 0, 1, 2 and 4 in full and predicts 3 and 5, and at 40 steps predicts 29; the first-block
# cache (threshold 0.05) runs step 0 in full and may skip from step 1. So 6 steps time both kinds
# of step, and the bench projects a cache's loop from each kind's time and the cache's schedule.
SIZE=() STEPS_WAN=(--steps 6) STEPS_BIG=(--steps 1)
((TINY)) && SIZE=(--tiny)
REFERENCE=${TMPDIR:-/tmp}/vidgen-wan480-reference.npz
bench() { # bench NAME LIMIT ARGS…: bench/diffusion.py, its deadline a little inside its limit
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - 10 - ($(date +%s) - START)))
    ((limit > left)) && limit=$left
    run "$name" "$limit" "$PYTHON" bench/diffusion.py "${SIZE[@]}" --deadline $((limit - 15)) \
        --json "$OUT/$name.json" "$@"
}

# Measured on the H200 (2026-12-04, bench/RESULTS.md) unless marked as an estimate; the session of
# that day took 491 s with steps 2-5 below in another order.

# -- 1. CUDA paths on tiny models (heads 16 or 8 wide: cuDNN attention runs as on real models):
#       bf16, the attention backend auto picks, fused projections, regional compile, the
#       streaming decode, memory after a cancel, every model under each offload mode, the
#       lossy options with the GPU defaults (estimate: 100-130 s, mostly the first regional
#       compile of each of the 6 models; 44 s on the H200 when 7 of 9 failed early) ----------
run tests-gpu 150 "$PYTHON" -m pytest -q --noconftest -p no:cacheprovider -rs tests/gpu

# -- 2. Wan2.1-I2V-14B 480p, 832×480, 81 frames: plain diffusers vs the engine, lossless, 6
#       timed steps; plain's frames are kept for step 4 (2 timed steps took 88 s: build 0.5 s,
#       plain 9.7 s warm-up + 6.27 s a step, engine 20 s warm-up with compile + 5.55 s a step,
#       ~8 s outside the loops each; so about 115 s) -----------------------------------------
bench wan21-i2v-14b-480p 140 --model wan2.1-i2v-14b-480p "${STEPS_WAN[@]}" \
    --save-reference "$REFERENCE"

# -- 3. LTX distilled end to end: LTX-2 (19B layout, Gemma 3 12B) at 768×512, 121 frames with
#       sound, the 8 distilled steps without guidance; target 2.5 s for the whole 5 s clip
#       (51 s) ------------------------------------------------------------------------------
bench ltx-2.3-distilled 80 --model ltx-2.3-distilled

# -- 4. The opt-in lossy settings on Wan2.1-I2V-14B 480p, each on a fresh pipeline with the
#       engine's GPU defaults plus the option (so uncompiled: the engine does not compile with
#       them), 6 timed steps, compared with step 2's plain frames (estimate, at ~6.1 s an
#       uncompiled step: TaylorSeer ~37 s (4 full steps), first-block ≤ 50 s, FP8 ~50 s; with
#       start-up about 145 s). Half the steps is left out: its cost is the engine's step × the
#       steps (measured in that session: 5.55 s a step) ----------------------------------------
bench wan21-i2v-14b-480p-lossy 160 --model wan2.1-i2v-14b-480p "${STEPS_WAN[@]}" \
    --variants none --lossy --lossy-variants taylorseer,first-block,fp8 --reference "$REFERENCE"

# -- 5. Wan2.2-I2V-A14B 720p, 1280×720, 81 frames, two experts, 1 timed step: measured in that
#       session (160 s for both variants), so last; runs only if the time is there ------------
bench wan22-i2v-a14b-720p 200 --model wan2.2-i2v-a14b-720p "${STEPS_BIG[@]}"

rm -f "$REFERENCE"
say "gpu_session done: $(ls "$OUT" | tr '\n' ' ')"

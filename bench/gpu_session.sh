#!/usr/bin/env bash
# One GPU session, in one device call: the CUDA tests, then the diffusers benchmarks in priority
# order, all inside BUDGET seconds (default 520), every step under its own `timeout`.
#
#   bash bench/gpu_session.sh            # on the GPU machine, with $OUT set, carrying .whl
#   bash bench/gpu_session.sh --tiny     # anywhere: the same steps on tiny CPU models
#
# The GPU machine has torch (CUDA), transformers, accelerate, pytest, opencv and pillow but no
# diffusers, ftfy (Wan's prompt cleaning), wcwidth (ftfy's) or av (PyAV: the MP4 writer): those
# travel as wheels in .whl/ and are installed into /tmp/site. Nothing else of the server is
# imported on this path (no pydantic, FastAPI or SQLAlchemy).
#
# Everything lands in $OUT as it is produced (a step cut short keeps what it wrote): log.txt (the
# whole log) and one JSON per benchmark. Estimates beside each step are from shared/GPU-NOTES.md's
# H100 figures (an H200 has the same bf16 compute): Wan2.1-I2V-14B 480p, 3.37 s per transformer
# forward plain (6.7 s a CFG step), 2.90 s with cuDNN attention and regional compile after an
# ~18 s compile; Wan VAE decode at 480p, 81 frames: ~2 s in bf16 (the fp32 VAE ~2× that).
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

if ((TINY)); then
    SIZE=(--tiny) STEPS_WAN=(--steps 2) STEPS_BIG=(--steps 1)
else
    SIZE=() STEPS_WAN=(--steps 2) STEPS_BIG=(--steps 1)
fi
bench() { # bench NAME LIMIT ARGS…: bench/diffusion.py, its deadline a little inside its limit
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - 10 - ($(date +%s) - START)))
    ((limit > left)) && limit=$left
    run "$name" "$limit" "$PYTHON" bench/diffusion.py "${SIZE[@]}" --deadline $((limit - 15)) \
        --json "$OUT/$name.json" "$@"
}

# -- 1. CUDA paths on tiny models: bf16, cuDNN attention, fused projections, regional compile,
#       the streaming decode, memory after a cancel, the experts under offload
#       (estimate: 60-100 s, mostly the first torch.compile of each of the 6 models) ------------
run tests-gpu 110 "$PYTHON" -m pytest -q --noconftest -p no:cacheprovider -rs tests/gpu

# -- 2. Wan2.1-I2V-14B 480p, 832×480, 81 frames: plain diffusers vs the engine, lossless
#       (estimate: build 15 s; plain: warm-up 1 step ~14 s + 2 timed steps, encodes and fp32
#       decode ~25 s; engine: warm-up with compile ~40 s + ~22 s; about 120 s) ------------------
bench wan21-i2v-14b-480p 170 --model wan2.1-i2v-14b-480p "${STEPS_WAN[@]}"

# -- 3. LTX distilled end to end: LTX-2 (19B layout, Gemma 3 12B) at 768×512, 121 frames with
#       sound, the 8 distilled steps without guidance; target 2.5 s for the whole 5 s clip
#       (estimate: build 20 s; plain ~15 s; engine with compile ~45 s; about 90 s) -------------
bench ltx-2.3-distilled 110 --model ltx-2.3-distilled

# -- 4. Wan2.2-I2V-A14B 720p, 1280×720, 81 frames, two experts (75,600 tokens: a CFG step
#       ~4× the 480p one, ~25 s plain). 1 timed step of the high-noise expert; the engine runs
#       only if the time is there (estimate: build 20 s, plain ~70 s, engine ~90 s) -----------
bench wan22-i2v-a14b-720p 200 --model wan2.2-i2v-a14b-720p "${STEPS_BIG[@]}"

# -- 5. The opt-in lossy settings on Wan2.1-I2V-14B 480p, each timed and compared with plain:
#       first-block and TaylorSeer step caches, half the steps, FP8 weights (estimate: ~30 s a
#       variant after ~60 s for plain and the engine's compile; likely cut by the budget) ------
bench wan21-i2v-14b-480p-lossy 200 --model wan2.1-i2v-14b-480p "${STEPS_WAN[@]}" \
    --variants plain,engine --lossy

say "gpu_session done: $(ls "$OUT" | tr '\n' ' ')"

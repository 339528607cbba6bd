#!/bin/bash
# Reproducibility check of the bundled model (docs/model-card.md, "Reproducibility"):
# trains the model card's recipe again with the same seed into RUN_DIR (resumable: run the
# script again after an interruption and it continues from the last finished epoch), then
# evaluates the re-run and the bundled weights the same way (Human3.6M S9/S11: ground-truth
# 2D, the noise model, 4 random cameras per recording), lifts the demo video with both, and
# prints the comparison (scripts/compare_to_bundled.py; exit 1 if the ground-truth-2D MPJPE
# or P-MPJPE differ by more than 1 mm).
# About 3.2 h of training on 2 CPU cores (2026-12: ~800 s per epoch), then ~20 min of checks.
# Usage (repo root): THREADS=2 bash scripts/repro_wild.sh [RUN_DIR]    (default runs/repro_wild)
# Quick dry run of the plumbing: TRAIN_EXTRA="--subset 0.002 --epochs 1" \
#   EVAL_EXTRA="--subjects-test S9 --actions Walking" bash scripts/repro_wild.sh /tmp/repro_dry
set -euo pipefail
RUN=${1:-runs/repro_wild}
T=${THREADS:-2}
PL=${POSELIFT:-.venv/bin/poselift}
PY=${PYTHON:-.venv/bin/python}
VIDEO=${VIDEO:-../shared/data/video/sports2d_demo.mp4}
TRAIN_EXTRA=${TRAIN_EXTRA:-}
EVAL_EXTRA=${EVAL_EXTRA:-}
export OMP_NUM_THREADS=$T
mkdir -p "$RUN"
RESUME=""; [ -f "$RUN/last.pt" ] && RESUME="--resume"

# the recipe exactly as docs/model-card.md gives it (seed 1234 is the default)
$PL train --dataset h36m --recipe wild --arc 3,3,3 --channels 640 --trajectory-channels 128 \
  --wild-clean-fraction 0.2 --downsample 2 --epochs 14 --lr-decay 0.8 --validate-every 2 --threads $T \
  --device cpu --out "$RUN" $RESUME --no-progress $TRAIN_EXTRA 2>&1 | tee -a "$RUN/train.log"

evaluate() {  # CHECKPOINT_OPTION OUTPUT [EXTRA ...]
  local ck=$1 out=$2; shift 2
  [ -s "$out" ] || { $PL evaluate $ck --threads $T --json $EVAL_EXTRA "$@" > "$out.tmp" && mv "$out.tmp" "$out"; }
}
evaluate "--checkpoint $RUN/last.pt" "$RUN/eval.json"
evaluate "--checkpoint $RUN/last.pt" "$RUN/eval.noisy.json" --noisy
evaluate "--checkpoint $RUN/last.pt" "$RUN/eval.virtual.json" --virtual-cameras 4
evaluate "" "$RUN/bundled.eval.noisy.json" --noisy
evaluate "" "$RUN/bundled.eval.virtual.json" --virtual-cameras 4
if [ -f "$VIDEO" ]; then
  for who in rerun bundled; do
    json=$RUN/infer.json; ck="--checkpoint $RUN/last.pt"
    [ $who = bundled ] && { json=$RUN/bundled.infer.json; ck=""; }
    [ -s "$json" ] || { $PL infer "$VIDEO" $ck --out "$RUN/demo_$who" --overwrite --threads $T --json > "$json.tmp" && mv "$json.tmp" "$json"; }
  done
else
  echo "no demo video at $VIDEO: skipping the real-video check"
fi
$PY scripts/compare_to_bundled.py "$RUN" | tee "$RUN/compare.txt"

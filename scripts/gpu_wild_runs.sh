#!/bin/bash
# Several `--recipe wild` trainings at once on one GPU, sized to fit one call of a lent
# GPU machine (docs/results.md, session 8). Each argument is one run, NAME=EXTRA-OPTIONS;
# default (session 8): A= A2= "B=--wild-real-cameras 0.2" "B2=--wild-real-cameras 0.2"
# (A2 / B2 repeat A / B with the same seed: the reproducibility check).
# Needs carry/positions_3d_mm_int16.npz and carry/cameras.json (copied from
# ../shared/data/h36m; carry/ is git-ignored and travels with `carry`).
# A probe measures the speed of the runs together, the epoch count is set from it, the lr
# decay makes the final lr 5 % of the first. Then evaluation (GT, noisy, virtual cameras)
# and the fp16 export of each run to $OUT; everything small comes back in $OUT/logs.tgz.
# Usage (repo root): bash scripts/gpu_wild_runs.sh [NAME=OPTIONS ...]
# Dry run on a CPU: DEV=cpu ARC=3,3,3 SUBSET=0.002 PROBE=0.002 EPOCHS=1 OUT=/tmp/o PY=.venv/bin/python \
#   EVAL_EXTRA="--actions Walking --subjects-test S9" bash scripts/gpu_wild_runs.sh
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-555}          # seconds for the whole script
EVAL_S=${EVAL_S:-150}          # reserved at the end for evaluation, export and packing
DEV=${DEV:-cuda}
ARC=${ARC:-3,3,3,3,3}
CHANNELS=${CHANNELS:-512}
PROBE=${PROBE:-0.15}           # --subset of the speed probe (0.08 in session 8 underestimated one run by 25 %: warm-up)
SUBSET=${SUBSET:-1}
EPOCH_SAMPLES=1464720          # windows per epoch of the training subjects at --downsample 2
PY=${PY:-python3}
EVAL_EXTRA=${EVAL_EXTRA:-}         # e.g. "--actions Walking" for a quick dry run
OUTD=${OUT:-/tmp/gpu_out}; mkdir -p "$OUTD"
W=/tmp/gpu_w; rm -rf $W; mkdir -p $W
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
D=/tmp/h36m_compact; mkdir -p $D; cp carry/positions_3d_mm_int16.npz carry/cameras.json $D/
el() { echo $(( $(date +%s) - T0 )); }
{ nvidia-smi -L; nproc; $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"; } > $W/env.txt 2>&1
cat $W/env.txt
COMMON="--dataset h36m --data-dir $D --recipe wild --arc $ARC --channels $CHANNELS --trajectory-channels 128 --wild-clean-fraction 0.2 --downsample 2 --validate-every 0 --threads 4 --no-progress --device $DEV"
[ $# -eq 0 ] && set -- "A=" "A2=" "B=--wild-real-cameras 0.2" "B2=--wild-real-cameras 0.2"
declare -A EXTRA; RUNS=""
for spec in "$@"; do name=${spec%%=*}; EXTRA[$name]=${spec#*=}; RUNS="$RUNS $name"; done
AUG=""

probe() {
  for r in $RUNS; do
    OMP_NUM_THREADS=4 $PY -m poselift train $COMMON ${EXTRA[$r]} $AUG --subset $PROBE --epochs 1 --out $W/probe_$r > $W/probe_$r.log 2>&1 &
  done
  wait
  grep -h "INFO epoch 1/1" $W/probe_*.log | sed -E 's/.* ([0-9]+) samples\/s.*/\1/' | sort -n | head -1
}
RATE=$(probe)
if [ -z "$RATE" ]; then
  echo "probe failed with batches rendered on $DEV:"; first=${RUNS# }; first=${first%% *}; tail -5 $W/probe_$first.log
  AUG="--augment-device cpu"; RATE=$(probe)
fi
[ -z "$RATE" ] && { echo "probe failed again"; tail -20 $W/probe_$first.log; tar czf "$OUTD/logs.tgz" -C $W .; exit 1; }
LEFT=$(( BUDGET - EVAL_S - $(el) - 25 ))
E=${EPOCHS:-$($PY -c "print(max(2, min(80, int($LEFT * $RATE / $EPOCH_SAMPLES))))")}
DECAY=$($PY -c "print(round(0.05 ** (1 / $E), 4))")
echo "t=$(el)s probe: $RATE samples/s per run with$RUNS at once; $LEFT s left for training -> --epochs $E --lr-decay $DECAY $AUG" | tee $W/plan.txt

for r in $RUNS; do
  echo "$PY -m poselift train $COMMON ${EXTRA[$r]} $AUG --subset $SUBSET --epochs $E --lr-decay $DECAY --out $W/$r" > $W/$r.cmd
  OMP_NUM_THREADS=4 $PY -m poselift train $COMMON ${EXTRA[$r]} $AUG --subset $SUBSET --epochs $E --lr-decay $DECAY --out $W/$r > $W/$r.log 2>&1 &
done
( sleep 60; nvidia-smi > $W/nvidia_smi.txt 2>&1 ) &
DEADLINE=$(( BUDGET - EVAL_S ))
while [ -n "$(jobs -rp)" ] && [ $(el) -lt $DEADLINE ]; do sleep 2; done
if [ -n "$(jobs -rp)" ]; then echo "t=$(el)s deadline: stopping the runs (their last.pt is the last finished epoch)" | tee -a $W/plan.txt; kill $(jobs -rp) 2>/dev/null; sleep 3; fi
echo "t=$(el)s training over"; for r in $RUNS; do grep -h "INFO epoch" $W/$r.log | tail -1; done

pack() { tar czf "$OUTD/logs.tmp" --exclude='*.pt' -C $W . && mv "$OUTD/logs.tmp" "$OUTD/logs.tgz"; }
for r in $RUNS; do  # export first: the weights come back even if the evaluation runs out of time
  [ -f $W/$r/last.pt ] && $PY -m poselift export-weights $W/$r/last.pt "$OUTD/$r.pt" --overwrite > $W/$r.export.log 2>&1
done
pack
EV="timeout $(( BUDGET - $(el) - 15 )) env OMP_NUM_THREADS=2 $PY -m poselift evaluate $EVAL_EXTRA"
for r in $RUNS; do
  ck=$W/$r/last.pt; [ -f $ck ] || continue
  $EV --checkpoint $ck --json > $W/$r.eval.json 2> $W/$r.eval.log &
  $EV --checkpoint $ck --noisy --json > $W/$r.eval_noisy.json 2> $W/$r.eval_noisy.log &
  $EV --checkpoint $ck --virtual-cameras 4 --json > $W/$r.eval_virtual.json 2> $W/$r.eval_virtual.log &
done
wait
for r in $RUNS; do
  $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], 'MPJPE', round(d['mpjpe_mm'],1), 'P-MPJPE', round(d['p_mpjpe_mm'],1))" $W/$r.eval.json $r 2>/dev/null
done
echo "t=$(el)s done" | tee -a $W/plan.txt
pack
ls -l "$OUTD"

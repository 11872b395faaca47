#!/usr/bin/env bash
# The runs behind docs/pages/quality.md. Every variant trains on the embedded MNIST (10,000
# digits, 32x32 unless the variant says otherwise) on the CPU for the same wall-clock budget,
# all seven side by side, each limited to the CPU threads given below (the table was made with
# BUDGET=420 on a 2-core machine). Then each generator is evaluated, one at a time, with the
# MNIST classifier: 10,000 samples against the 10,000 real digits, every metric, seed 0.
#   usage: docs/quality-runs.sh [OUT_DIR]     (BUDGET=seconds per run, default 420; EVAL=0 skips eval)
set -u
GANZOO=${GANZOO:-ganzoo}
OUT=${1:-runs/quality}
BUDGET=${BUDGET:-420}
EVAL=${EVAL:-1}
mkdir -p "$OUT"

run() {  # run NAME THREADS ganzoo-train-arguments...
    local name=$1 threads=$2
    shift 2
    OMP_NUM_THREADS=$threads $GANZOO train "$@" --device cpu --epochs 10000 --quiet --overwrite --out "$OUT/$name" \
        --set run.max_seconds="$BUDGET" --set run.checkpoint_every_epochs=0 > "$OUT/$name.log" 2>&1 &
}

run mlp 1 mlp
run cgan-mlp 1 cgan-mlp
run dcgan 2 dcgan --set model.ngf=32 --set model.ndf=32
run cgan-dcgan 2 cgan-dcgan --set model.ngf=32 --set model.ndf=32
run wgan-clip 2 wgan-clip --set model.ngf=32 --set model.ndf=32
run wgan-gp 4 wgan-gp --set model.ngf=32 --set model.ndf=32
run dcgan-64 4 dcgan-64
wait

[ "$EVAL" = 0 ] && exit 0
mkdir -p "$OUT/eval"
for name in mlp cgan-mlp dcgan cgan-dcgan wgan-clip wgan-gp dcgan-64; do
    $GANZOO eval "$OUT/$name/generator.safetensors" --backbone mnist-classifier --num 10000 --seed 0 \
        --device cpu --out "$OUT/eval/$name.json" > "$OUT/eval/$name.log" 2>&1
done

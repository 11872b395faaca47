#!/usr/bin/env bash
# The runs behind docs/pages/quality.md, one protocol for every row:
#   * each run trains on the embedded MNIST (10,000 digits, 32x32) on the CPU, fp32, batch 64,
#     seed 0, for the same wall-clock budget (BUDGET seconds, 600 for the table);
#   * ONE RUN AT A TIME on an otherwise idle machine, with every core (no OMP_NUM_THREADS cap);
#   * each generator is then evaluated, also alone, with the MNIST classifier: 10,000 samples
#     against the 10,000 real digits, every metric, seed 0, and its 64-sample grid is written.
# A row is "VARIANT" (registered defaults, plus the widths below) or "VARIANT+toolbox" (the same
# with EMA of G and DiffAugment on what D sees), "VARIANT+ada" (the toolbox with ADA's adaptive
# probability, target 0.6, instead of augmenting every image), "VARIANT+ema" (EMA of G alone, no
# augmentation: the control for an ADA run whose probability falls to 0), "VARIANT+r1" (the R1 strategy), "VARIANT+bf16"
# (bf16 autocast on the CPU: the training-health check behind run.speed's table) or "VARIANT+reuse"
# (the G update reuses the D update's fake batch: the check behind strategy.options.fake_batch). Every run takes
# the plain fp32 path (--speed off) unless its row says otherwise, as the rows measured before
# run.speed existed did.
#   usage: docs/quality-runs.sh OUT_DIR [ROW ...]      (default: every row, in the table's order)
#          BUDGET=seconds per run (default 600)
#          STEPS=N also stops each run after N steps (equal steps instead of equal time: how the
#          bf16 health check runs on a CPU where bf16 is slower than fp32)
set -u
GANZOO=${GANZOO:-ganzoo}
OUT=${1:-runs/quality}
shift || true
BUDGET=${BUDGET:-600}
STEPS=${STEPS:-}
steps=(); [ -n "$STEPS" ] && steps=(--set run.max_steps="$STEPS")
mkdir -p "$OUT/eval" "$OUT/grids"

ROWS=(mlp mlp+toolbox cgan-mlp cgan-mlp+toolbox dcgan dcgan+toolbox dcgan+r1 cgan-dcgan cgan-dcgan+toolbox
      wgan-clip wgan-gp wgan-gp+toolbox dcgan-64 sngan sngan+toolbox resnet resnet+toolbox
      resnet-projection resnet-projection+toolbox acgan acgan+toolbox dcgan+ada sngan+ada ddpm)
[ $# -gt 0 ] && ROWS=("$@")

# What the toolbox adds: EMA of G (decay 0.999, warm-up ramp) and DiffAugment translation + cutout
# (colour jitter is left out: the digits are grey).
EMA=(--set ema.enabled=true --set ema.decay=0.999 --set ema.rampup=true)
TOOLBOX=("${EMA[@]}" --set augment.policy=translation,cutout)
# ADA: the probability starts at 0 and can reach 1 within 50,000 images (about 800 steps of 64), so
# that it can settle within a 10-minute CPU run (the paper's 500,000 suits runs of millions of images).
ADA=("${TOOLBOX[@]}" --set augment.target=0.6 --set augment.adjust_images=50000)

widths() {  # the narrower widths that let the convolutional variants through more steps in the budget
    case $1 in
        dcgan|cgan-dcgan|wgan-clip|wgan-gp|sngan) echo --set model.ngf=32 --set model.ndf=32 ;;
        resnet|resnet-projection|acgan) echo --set model.g_channels=32 --set model.d_channels=32 ;;
    esac
}

for row in "${ROWS[@]}"; do
    variant=${row%%+*}
    extra=()
    case $row in
        *+toolbox) extra=("${TOOLBOX[@]}") ;;
        *+ada) extra=("${ADA[@]}") ;;
        *+ema) extra=("${EMA[@]}") ;;
        *+r1) extra=(--strategy r1) ;;
        *+bf16) extra=(--precision bf16) ;;
        *+reuse) extra=(--set strategy.options.fake_batch=reuse) ;;
    esac
    # shellcheck disable=SC2046
    $GANZOO train "$variant" $(widths "$variant") "${extra[@]}" --speed off --device cpu --epochs 10000 --quiet --overwrite \
        --out "$OUT/$row" --set run.max_seconds="$BUDGET" --set run.checkpoint_every_epochs=0 "${steps[@]}" > "$OUT/$row.log" 2>&1
    grid=(); [ "$variant" != "${variant#cgan}" ] || [ "$variant" = resnet-projection ] || [ "$variant" = acgan ] \
        && grid=(--grid-by-class)
    $GANZOO sample "$OUT/$row/generator.safetensors" --num 64 --seed 0 "${grid[@]}" \
        --out "$OUT/grids/quality-$row.png" >> "$OUT/$row.log" 2>&1
    $GANZOO eval "$OUT/$row/generator.safetensors" --backbone mnist-classifier --num 10000 --seed 0 \
        --device cpu --out "$OUT/eval/$row.json" > "$OUT/eval/$row.log" 2>&1
done

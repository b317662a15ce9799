#!/usr/bin/env bash
# Re-run the benchmark suite's headline experiments (docs/benchmarks.md) and append every table,
# with its exact command, date and machine, to one markdown file.
#
#   bench/reproduce.sh [OUT.md] [speed e1 e2 e3 photos e4 ...]   (default: docs/reproduced.md, all)
#
# Two jobs run side by side where the machine has two cores; every process uses one torch thread.
# About 2 hours on a 2-core machine (E3 ~40 min per job, E4 ~35 min, E2 ~10 min). Rows go to
# runs/reproduce/*.json and images to runs/reproduce/figures/, so the committed ones stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/reproduced.md}
shift || true
PARTS=("${@:-speed e1 e2 e3 photos e4}")
P=.venv/bin/proxymat
R=runs/reproduce
mkdir -p "$R/figures"
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
rec=(--record "$OUT")

if want speed; then
  $P bench graph --res 256 --iters 7 --threads 2 "${rec[@]}"
  $P bench generators --iters 3 --threads 2 "${rec[@]}"
fi
if want e1; then
  $P bench proxies --threads 1 --figures "$R/figures" --json-out "$R/e1.json" "${rec[@]}"
fi
if want e2; then  # the four families with baselines in bench/weights, two at a time
  rm -f "$R"/e2_*.md
  for pair in "clouds tile_paraboloid" "pptbf_mask_cellular cells"; do
    for g in $pair; do
      $P bench e2 --names "$g" --threads 1 --json-out "$R/e2_$g.json" --figures "$R/figures/e2_$g" --record "$R/e2_$g.md" &
    done
    wait
  done
  cat "$R"/e2_*.md >> "$OUT"
fi
if want e3 || want photos; then
  rm -f "$R/e3.md" "$R/e3_real.md"
  pids=()
  if want e3; then
    $P bench examples --res 128 --threads 1 --methods full stage1 sa cma powell --figures "$R/figures" \
      --json-out "$R/e3.json" --record "$R/e3.md" > "$R/e3.log" 2>&1 &
    pids+=($!)
  fi
  if want photos; then  # needs ../shared/targets/real (or --photos DIR)
    .venv/bin/python bench/e3_real.py --threads 1 --target-encoding linear --methods full stage1 sa cma powell \
      --figures "$R/figures" --json-out "$R/e3_real.json" --record "$R/e3_real.md" > "$R/e3_real.log" 2>&1 &
    pids+=($!)
  fi
  wait "${pids[@]}"
  for f in "$R/e3.md" "$R/e3_real.md"; do [ -f "$f" ] && cat "$f" >> "$OUT"; done
fi
if want e4; then  # one process per gradient-free method (each also runs the deterministic proxy fit)
  rm -f "$R"/e4_*.md
  for m in powell_bo cma_es; do
    $P bench e4 --targets 4 --res 512 --budget 120 --steps 150 --threads 1 --gf-methods "$m" \
      --json-out "$R/e4_$m.json" --record "$R/e4_$m.md" > "$R/e4_$m.log" 2>&1 &
  done
  wait
  cat "$R"/e4_*.md >> "$OUT"
fi
echo "tables appended to $OUT"

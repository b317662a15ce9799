#!/usr/bin/env bash
# Train the shipped proxies on 2 CPU cores: two queues, one thread each, resumable.
# Rerunning continues from the checkpoints in runs/proxies/. When a queue ends,
# copy runs/proxies/NAME.safetensors to src/proxymat/weights/.
set -euo pipefail
cd "$(dirname "$0")/.."
P=.venv/bin/proxymat
mkdir -p runs/proxies
queue_a() {
  $P proxy train cells --steps "${CELLS_STEPS:-5000}" --res 128 --no-gan --threads 1 --quiet --out runs/proxies/cells.safetensors
  $P proxy train tile_paraboloid --steps "${TILE_STEPS:-5000}" --res 128 --no-gan --threads 1 --quiet --out runs/proxies/tile_paraboloid.safetensors
}
queue_b() {
  $P proxy train clouds --steps "${CLOUDS_STEPS:-4000}" --res 128 --no-gan --threads 1 --quiet --out runs/proxies/clouds.safetensors
  $P proxy train scratches --steps "${SCRATCHES_STEPS:-3000}" --res 128 --gan --threads 1 --quiet --out runs/proxies/scratches.safetensors
  $P proxy train pptbf --steps "${PPTBF_STEPS:-3000}" --res 128 --no-gan --threads 1 --quiet --out runs/proxies/pptbf.safetensors
}
queue_a > runs/proxies/queue_a.log 2>&1 &
queue_b > runs/proxies/queue_b.log 2>&1 &
wait

#!/usr/bin/env bash
# The transfer protocol of benchmarks/TRANSFER.md: does pre-training on synthgen images help
# a detector on real KITTI photos?
#
#   bash benchmarks/transfer.sh [WORK_DIR]        # about 2.5 hours on 2 cores
#
# Fine-tune set: the 50 KITTI images of ../shared/real/kitti_obj_000000-000049.
# Evaluation set: ../shared/real/kitti_more_dev (537 KITTI frames; evaluation only).
# Look: ../shared/real/kitti_unlabelled (313 unlabelled frames).
# Needs the bench extra: pip install -e '.[bench]'.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/real}
WORK=${1:-/tmp/synthgen-transfer}
STEPS=${STEPS:-1000}
SEEDS=${SEEDS:-0,1}
mkdir -p "$WORK"

bench() {  # bench NAME ARMS SYNTHETIC_DIR...
  local name=$1 arms=$2
  shift 2
  local args=()
  for d in "$@"; do args+=(--synthetic "$d"); done
  synthgen -q benchmark "${args[@]}" --real "$SHARED/kitti_obj_000000-000049" \
    --eval "$SHARED/kitti_more_dev" --steps "$STEPS" --threads 1 --arms "$arms" \
    --seeds "$SEEDS" --json "$WORK/$name.json" --html "$WORK/$name.html" --overwrite
}

# Bundled templates as they are: 1,000 images each at KITTI's size.
for t in urban highway rural intersection; do
  [ -f "$WORK/$t/manifest.json" ] || synthgen -q generate --scene "$t" --count 1000 \
    --size 1242x375 --out "$WORK/$t" --seed 1
done
# The template synthgen fit wrote for the fine-tune set, with the camera's look.
[ -f "$WORK/kitti/manifest.json" ] || synthgen -q generate --scene kitti --count 4000 \
  --size 1242x375 --look-like "$SHARED/kitti_unlabelled/images" --out "$WORK/kitti" --seed 1

# The real arm does not depend on the synthetic set: trained once per seed.
bench real real "$WORK/urban" &
bench bundled synthetic,synthetic+real "$WORK/urban" "$WORK/highway" "$WORK/rural" \
  "$WORK/intersection" &
wait
bench kitti synthetic,synthetic+real "$WORK/kitti"
for name in real bundled kitti; do
  python -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(sys.argv[2], json.dumps(d['summary']['arms'], indent=None))" "$WORK/$name.json" "$name"
done

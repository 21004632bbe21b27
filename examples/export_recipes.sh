#!/usr/bin/env bash
# The export recipes end to end on a tiny hybrid set: generate, import the KITTI sample,
# mix, export to YOLO and KITTI, read the YOLO lists with plain PyTorch, read the KITTI
# labels back with synthgen's own KITTI reader, and train Ultralytics YOLO for one CPU
# epoch when ultralytics is installed (it is skipped, and says so, when it is not).
#
#   bash examples/export_recipes.sh [KITTI_DIR] [WORK_DIR]
set -euo pipefail
KITTI=${1:-../shared/real/kitti_obj_000000-000049}
WORK=${2:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "working in $WORK"

synthgen -q generate --scene urban --count 8 --size 320x96 --seed 0 --out "$WORK/synthetic"
synthgen -q real import --format kitti "$KITTI" --out "$WORK/real"
synthgen -q mix --synthetic "$WORK/synthetic" --real "$WORK/real" --out "$WORK/mixed" \
    --seed 0 --real-weight 2
synthgen export "$WORK/mixed" --format yolo --out "$WORK/yolo"
synthgen export "$WORK/mixed" --format kitti --out "$WORK/kitti"

python "$HERE/yolo_torch_dataset.py" "$WORK/yolo/train.txt"
python - "$WORK/kitti" <<'PY'
import sys
from pathlib import Path
from synthgen.datasets.realsets import parse_kitti_label
labels = sorted((Path(sys.argv[1]) / "training" / "label_2").glob("*.txt"))
kinds = {}
for path in labels:
    for obj in parse_kitti_label(path):
        kinds[obj.name] = kinds.get(obj.name, 0) + 1
print(f"KITTI label_2: {len(labels)} files, objects by type {kinds}")
PY

if python -c "import ultralytics" 2>/dev/null; then
    python "$HERE/train_ultralytics.py" "$WORK/yolo/data.yaml"
else
    echo "ultralytics is not installed: Ultralytics training skipped (pip install ultralytics)"
fi

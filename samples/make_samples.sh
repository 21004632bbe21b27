#!/usr/bin/env bash
# Makes every file in samples/ from the bundled templates. Deterministic: running it again
# gives the same files. Usage (from the repository, with synthgen installed):
#     bash samples/make_samples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for scene in urban highway rural intersection; do
    synthgen -q generate --scene "$scene" --count 24 --seed 7 --out "$work/$scene"
    # One contact sheet per template: 8 images with their labels.
    synthgen preview "$work/$scene" --out "samples/$scene.png" --count 8 --seed 1 --overwrite
    # Three per template for the picture at the top of the README.
    synthgen preview "$work/$scene" --out "$work/$scene-3.png" --count 3 --columns 3 --seed 2
done

# The template synthgen fit wrote for KITTI, at KITTI's image size.
synthgen -q generate --scene kitti --count 24 --seed 7 --size 1242x375 --out "$work/kitti"
synthgen preview "$work/kitti" --out samples/kitti.png --count 8 --seed 1 --columns 2 \
    --overwrite

# What the labels are made of: image | instance ids | depth | modal and amodal boxes.
synthgen preview --scene intersection --seed 3 --count 2 --layers --out samples/layers.png \
    --overwrite

# Statistics of a small dataset: a self-contained HTML report and its numbers.
synthgen stats "$work/urban" --html samples/stats.html --json samples/stats.json --overwrite

python - "$work" <<'PY'
"""Stack the four three-image sheets into samples/contact_sheet.png (12 images)."""
import sys
from pathlib import Path

from PIL import Image

work = Path(sys.argv[1])
sheets = [Image.open(work / f"{s}-3.png").convert("RGB")
          for s in ("urban", "highway", "rural", "intersection")]
width = max(s.width for s in sheets)
stack = Image.new("RGB", (width, sum(s.height for s in sheets)), (24, 24, 24))
y = 0
for sheet in sheets:
    stack.paste(sheet, (0, y))
    y += sheet.height
stack.save("samples/contact_sheet.png", optimize=True)
PY
echo "samples/ written"

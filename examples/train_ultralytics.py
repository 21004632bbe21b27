"""One short Ultralytics YOLO training run on CPU from a `synthgen export --format yolo`
folder, offline: the network is built from its YAML (no pretrained weights, nothing
downloaded).

    pip install ultralytics
    python examples/train_ultralytics.py OUT/data.yaml            # a mix: train.txt
    python examples/train_ultralytics.py OUT/data-pretrain.yaml   # pre-train stage

NOT RUN in synthgen's development environment: ultralytics is not installed there and
nothing may be downloaded (see the README's "Exports for trainers"). The options below
are the ones Ultralytics documents for this; check them against your version.
"""

from __future__ import annotations

import sys


def main(data_yaml: str) -> None:
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")  # architecture only: no weight file is fetched
    model.train(
        data=data_yaml,
        epochs=1,
        imgsz=320,
        batch=4,
        device="cpu",
        workers=0,
        pretrained=False,  # no download of yolov8n.pt
        amp=False,         # the AMP check downloads a model (on GPU only, but be explicit)
        plots=False,       # label plots fetch a font
        project="runs/synthgen",
        name="one-epoch",
        exist_ok=True,
    )
    metrics = model.val(data=data_yaml, split="val", device="cpu", workers=0, plots=False)
    print(f"mAP50 {metrics.box.map50:.4f}  mAP50-95 {metrics.box.map:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/yolo/data.yaml")

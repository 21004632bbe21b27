"""Read a `synthgen export --format yolo` folder with plain PyTorch (no torchvision, no
Ultralytics): one item per line of a split list, so a mix's repeated real images are
drawn as often as `--real-weight` says.

    python examples/yolo_torch_dataset.py OUT/train.txt

Run here (torch 2.13 CPU). Boxes come back as pixel ``x0, y0, x1, y1`` with class
indices into ``names`` of ``OUT/data.yaml``; blacked-out ignore regions need nothing
more: they are no label and no longer look like an object.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from torch.utils.data import DataLoader, Dataset


class YoloListDataset(Dataset):
    """The entries of one ``<split>.txt`` of a YOLO export."""

    def __init__(self, list_file: str | Path):
        self.list_file = Path(list_file)
        root = self.list_file.parent
        self.names = yaml.safe_load((root / "data.yaml").read_text())["names"]
        lines = self.list_file.read_text().splitlines()
        self.images = [root / line.removeprefix("./") for line in lines if line]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image_path = self.images[index]
        with Image.open(image_path) as opened:
            image = torch.from_numpy(np.asarray(opened.convert("RGB")).copy())
        height, width = image.shape[:2]
        # labels/ mirrors images/ (see synthgen.formats.export.yolo_label_path for the exact rule)
        parts = list(image_path.parts)
        parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
        text = Path(*parts).with_suffix(".txt").read_text()
        rows = np.array([line.split() for line in text.splitlines()], float).reshape(-1, 5)
        cx, cy, w, h = (rows[:, i] for i in range(1, 5))
        boxes = np.stack([(cx - w / 2) * width, (cy - h / 2) * height,
                          (cx + w / 2) * width, (cy + h / 2) * height], axis=1)
        return image.permute(2, 0, 1), {"boxes": torch.as_tensor(boxes, dtype=torch.float32),
                                        "labels": torch.as_tensor(rows[:, 0], dtype=torch.int64)}


def main(list_file: str) -> None:
    dataset = YoloListDataset(list_file)
    print(f"{list_file}: {len(dataset)} entries, {len(set(dataset.images))} files, "
          f"classes {dataset.names}")
    loader = DataLoader(dataset, batch_size=4, shuffle=True,
                        collate_fn=lambda batch: tuple(zip(*batch, strict=True)),
                        generator=torch.Generator().manual_seed(0))
    images, targets = next(iter(loader))
    for image, target in zip(images, targets, strict=True):
        print(f"  image {tuple(image.shape)}: {len(target['boxes'])} boxes, classes "
              f"{target['labels'].tolist()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/yolo/train.txt")

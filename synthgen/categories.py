"""The fixed object categories every synthgen dataset uses.

Ids are 1-based (COCO tools treat 0 as background) and never change between datasets,
so synthetic and real sets can be mixed without remapping.
"""

from __future__ import annotations

import re
from typing import Final

#: (id, name, supercategory), in id order.
CATEGORIES: Final[tuple[tuple[int, str, str], ...]] = (
    (1, "car", "vehicle"),
    (2, "truck", "vehicle"),
    (3, "bus", "vehicle"),
    (4, "pedestrian", "person"),
    (5, "cyclist", "person"),
    (6, "traffic_light", "traffic_control"),
    (7, "traffic_sign", "traffic_control"),
)

CATEGORY_NAMES: Final[tuple[str, ...]] = tuple(name for _, name, _ in CATEGORIES)
CATEGORY_ID: Final[dict[str, int]] = {name: cid for cid, name, _ in CATEGORIES}
CATEGORY_NAME: Final[dict[int, str]] = {cid: name for cid, name, _ in CATEGORIES}


def coco_categories() -> list[dict[str, object]]:
    """The ``categories`` list of a COCO file, in id order."""
    return [{"id": cid, "name": name, "supercategory": sup} for cid, name, sup in CATEGORIES]


def name_key(name: str) -> str:
    """The form category names are compared in: lower case, no spaces, ``_`` or ``-``."""
    return re.sub(r"[\s_\-]+", "", name.lower())

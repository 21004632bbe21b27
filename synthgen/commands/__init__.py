"""One module per CLI command; each command's docstring is its ``--help``."""

def counted(n: int, noun: str) -> str:
    """``"1 image"``, ``"2 images"``, ``"3 boxes"``: a count with its noun."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith(("s", "x")) else f"{n} {noun}s"


def labels_found(annotations: int, per_class: dict[str, int], photo_boxes: int = 0) -> str:
    """``"285 boxes (12 from the background photos' labels) and 59 ignore regions"``: a
    dataset's annotations as generate and merge count them."""
    boxes = sum(per_class.values())
    found = counted(boxes, "box")
    if photo_boxes:
        found += f" ({photo_boxes} from the background photos' labels)"
    if annotations > boxes:
        found += f" and {counted(annotations - boxes, 'ignore region')}"
    return found

"""Models pinned to a golden file: every array of models of every kind as synthgen 0.7.0
built them from face objects (cars, pedestrians and buildings by 97a884b; the other kinds,
and the low car, narrow people and narrow building after them, unchanged since, by
5449e22), before they were built as arrays.

Regenerate only for a deliberate change of a shape: ``python
tests/render/test_model_golden.py`` writes the file from the code it runs with.
Coordinates are compared to 1e-9 m (the same operations give the same bits here; the
margin keeps a machine whose trigonometry differs in the last bit from failing);
everything else exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from synthgen.render.shapes import Model, object_model, prop_model
from synthgen.scene.model import Prop, SceneObject

GOLDEN = Path(__file__).parent / "golden" / "models-0.7.0.npz"


def _things() -> list[SceneObject | Prop]:
    """One of each car variant (a 6 cm wide one too: its cabin has no front or back),
    pedestrians in two phases, buildings lit and dark; trucks (a semi, and one too flat
    for its cargo box), a bus, cyclists, traffic lights (each lamp lit), signs of every
    shape, street lights lit and dark, a barrier, trees of both kinds, a car so low
    that its windscreen and rear window have no glass, people so narrow their torso is
    flat, and a building with walls too short for windows."""
    def car(i, variant, length, width, height, state):
        return SceneObject(instance_id=i, category="car", x=1.5 * i, y=8.0 + i, yaw=0.3 * i,
                           length=length, width=width, height=height,
                           color=(40 * i % 256, 90, 160), placement="lane",
                           variant=variant, state=state)
    things: list[SceneObject | Prop] = [
        car(1, "sedan", 4.5, 1.8, 1.45, 0.13), car(2, "hatchback", 4.0, 1.75, 1.5, 0.71),
        car(3, "suv", 4.8, 1.95, 1.75, 0.42), car(4, "van", 5.2, 2.0, 2.1, 0.97),
        car(5, "", 3.9, 0.06, 1.4, 0.5)]
    things += [SceneObject(instance_id=6 + k, category="pedestrian", x=-2.0, y=12.0 + k,
                           yaw=1.1 * k, length=0.3, width=0.55, height=1.62 + 0.2 * k,
                           color=(150, 40, 40), placement="sidewalk", variant=f"skin{k}",
                           state=0.37 * k, secondary_color=(30, 30, 60)) for k in range(2)]
    things += [Prop(kind="building", x=-14.0 + 28 * k, y=30.0 + 7 * k, yaw=0.05 * k,
                    length=18.0, width=11.0, height=9.0 + 6 * k, color=(150, 140, 128),
                    secondary_color=(60, 70, 80), lit_fraction=0.4 * k) for k in range(2)]

    def obj(i, category, length, width, height, color=None, **kwargs):
        return SceneObject(instance_id=i, category=category, x=0.7 * i - 9.0, y=6.0 + i,
                           yaw=0.2 * i - 1.0, length=length, width=width, height=height,
                           color=color or (20 * i % 256, 120, 60), placement="lane",
                           **kwargs)
    things += [obj(10, "truck", 7.5, 2.4, 3.2, variant="box", state=0.3),
               obj(11, "truck", 16.0, 2.5, 4.0, variant="semi"),
               obj(12, "truck", 6.0, 2.2, 0.9, variant="box"),
               obj(13, "bus", 12.0, 2.55, 3.1, state=0.6),
               obj(14, "cyclist", 1.8, 0.6, 1.75, state=0.2, secondary_color=(10, 20, 30),
                   variant="skin1"),
               obj(15, "cyclist", 1.2, 0.5, 1.5, state=0.85)]
    things += [obj(16 + k, "traffic_light", 0.35, 0.3, 0.9, state=float(k),
                   elevation=2.6 + 0.2 * k, color=(30, 30, 30)) for k in range(3)]
    things += [obj(19 + k, "traffic_sign", 0.1, 0.7 + 0.05 * k, 0.7 - 0.04 * k,
                   variant=shape, elevation=2.0, color=(200, 30, 30),
                   secondary_color=(240, 240, 240) if k % 2 else (200, 30, 30))
               for k, shape in enumerate(("circle", "triangle", "octagon", "square",
                                          "diamond", ""))]
    things += [Prop(kind="street_light", x=5.0, y=20.0 + 10 * k, yaw=-1.5 + 3 * k,
                    length=0.3, width=1.8, height=7.5, color=(90, 90, 95),
                    lit_fraction=float(k)) for k in range(2)]
    things += [Prop(kind="barrier", x=3.0, y=15.0, yaw=0.02, length=4.0, width=0.6,
                    height=0.8, color=(180, 180, 170))]
    things += [Prop(kind="tree", x=-8.0 + 3 * k, y=25.0, yaw=0.4 * k, length=3.0,
                    width=3.0 + k, height=6.0 + 2 * k, color=(50, 90, 40),
                    secondary_color=(80, 60, 40), variant=variant)
               for k, variant in enumerate(("broadleaf", "conifer"))]
    # A car low enough (0.25 m, as a template may make one) that its windscreen and rear
    # window face up like a roof and have no glass.
    things.append(car(30, "sedan", 4.2, 1.8, 0.25, 0.55))
    # People so narrow their torso is a flat box (0.12 m) or an inverted one (0.10 m),
    # and a building 1.5 m wide, whose two short walls have no windows, all lit.
    things += [SceneObject(instance_id=31 + k, category="pedestrian", x=1.0, y=9.0 + k,
                           yaw=0.2, length=0.25, width=width, height=1.5,
                           color=(90, 40, 40), placement="sidewalk", variant="skin1",
                           state=0.6, secondary_color=(30, 30, 60))
               for k, width in enumerate((0.12, 0.10))]
    things.append(Prop(kind="building", x=-9.0, y=22.0, yaw=0.1, length=9.0, width=1.5,
                       height=7.0, color=(150, 140, 128), secondary_color=(60, 70, 80),
                       lit_fraction=1.0))
    return things


def _model(thing: SceneObject | Prop) -> Model:
    return object_model(thing) if isinstance(thing, SceneObject) else prop_model(thing)


def _arrays(model: Model) -> dict[str, np.ndarray]:
    """Every array of a model, its parts, its window batches and what labels and shadows
    it, by name."""
    arrays = {name: value for name, value in vars(model).items()
              if isinstance(value, np.ndarray)}
    arrays["parts"] = np.array(model.parts, np.int64).reshape(-1, 2)
    arrays["labels"] = np.array([model.instance_id, model.category or "",
                                 model.casts_shadow, model.contact_shadow], str)
    for key, group in model.batches.items():
        for k, batch in enumerate(group):
            arrays[f"batch {key} {k} quads"] = batch.quads
            arrays[f"batch {key} {k} color"] = np.array([*batch.color, batch.emissive])
    return arrays


def write_golden(path: Path = GOLDEN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"{i}: {name}": value
                                 for i, thing in enumerate(_things())
                                 for name, value in _arrays(_model(thing)).items()})


def test_models_are_those_of_0_7_0():
    golden = np.load(GOLDEN)
    built = {f"{i}: {name}": value for i, thing in enumerate(_things())
             for name, value in _arrays(_model(thing)).items()}
    assert sorted(built) == sorted(golden.files)
    for key, value in built.items():
        expected = golden[key]
        assert value.dtype == expected.dtype and value.shape == expected.shape, key
        if value.dtype.kind == "f":
            assert np.allclose(value, expected, rtol=0.0, atol=1e-9), key
        else:
            assert np.array_equal(value, expected), key


if __name__ == "__main__":
    write_golden(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)

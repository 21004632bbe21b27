"""Tests of :mod:`synthgen.analysis.measure`: hand-computed values on a tiny set, the
binning, and the ``stats --json`` document built from them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.analysis import measure
from synthgen.analysis.report import stats_to_json
from synthgen.cli import cli
from synthgen.errors import DatasetError
from synthgen.formats.dataset import load_dataset
from synthgen.storage.files import to_json
from tests.factories import annotation, make_coco_folder, make_image

# Three images, five objects and one crowd region with sizes chosen by hand:
#   widths  40 10 20 60 20 -> sorted 10 20 20 40 60, median 20
#   heights 20 30 10 40 50 -> sorted 10 20 30 40 50, median 30
#   aspects 2 1/3 2 1.5 0.4 -> median 1.5
#   objects per image 2 3 0 -> median 2, mean 5/3
SMALL_IMAGES: list[dict[str, Any]] = [
    {"id": 1, "file_name": "a.png", "width": 200, "height": 100, "weather": "rain",
     "time_of_day": "day", "camera": {"height": 1.5, "pitch_deg": 0.0, "fov_deg": 90.0}},
    {"id": 2, "file_name": "b.png", "width": 200, "height": 100,
     "weather": {"kind": "fog", "intensity": 0.3}, "time_of_day": "night",
     "camera": {"height": 1.7, "pitch_deg": 5.0, "fov_deg": 90.0, "name": "front"}},
    {"id": 3, "file_name": "c.png", "width": 100, "height": 100, "time_of_day": "day"},
]
SMALL_ANNOTATIONS: list[dict[str, Any]] = [
    annotation(1, 1, 1, [10, 20, 40, 20], visibility=1.0, occluded=0),
    annotation(2, 1, 4, [100, 10, 10, 30], visibility=0.5, occluded=1),
    annotation(3, 2, 1, [0, 0, 20, 10], visibility=0.25, occluded=1),
    annotation(4, 2, 1, [50, 50, 60, 40], occluded=2),
    annotation(5, 2, 5, [150, 40, 20, 50]),
    # An ignore region: never an object, whatever fields it carries.
    annotation(6, 2, 1, [0, 0, 50, 50], iscrowd=1, visibility=0.0, occluded=3),
]


@pytest.fixture()
def small_set(tmp_path: Path) -> Path:
    folder = make_coco_folder(tmp_path / "small", SMALL_IMAGES, SMALL_ANNOTATIONS)
    # Flat grey 90 everywhere except image c, flat 200.
    make_image(folder / "images" / "c.png", 100, 100, value=200)
    return folder


@pytest.fixture()
def small_stats(small_set: Path) -> measure.DatasetStats:
    return measure.dataset_statistics(load_dataset(small_set))


def test_counts(small_stats: measure.DatasetStats) -> None:
    assert small_stats.name == "small"
    assert (small_stats.num_images, small_stats.num_objects) == (3, 5)
    assert (small_stats.num_crowd, small_stats.images_with_crowd) == (1, 1)
    assert small_stats.class_counts == {"car": 3, "truck": 0, "bus": 0, "pedestrian": 1,
                                        "cyclist": 1, "traffic_light": 0, "traffic_sign": 0}
    assert small_stats.crowd_class_counts == {"car": 1}
    assert small_stats.invalid_boxes == small_stats.orphan_annotations == 0


def test_object_distributions(small_stats: measure.DatasetStats) -> None:
    samples = small_stats.samples
    np.testing.assert_array_equal(samples["objects_per_image"], [2, 3, 0])
    assert measure.summarize(samples["box_width"])["median"] == 20
    assert measure.summarize(samples["box_height"])["median"] == 30
    assert measure.summarize(samples["box_aspect"])["median"] == 1.5
    assert measure.summarize(samples["objects_per_image"])["mean"] == pytest.approx(5 / 3)
    np.testing.assert_array_equal(samples["visibility"], [1.0, 0.5, 0.25])
    assert samples["truncation"].size == 0
    assert small_stats.counts["occluded"] == {"0": 1, "1": 2, "2": 1}


def test_box_centres_are_fractions_of_their_image(small_stats: measure.DatasetStats) -> None:
    expected = [(0.15, 0.3), (0.525, 0.25), (0.05, 0.05), (0.4, 0.7), (0.8, 0.65)]
    np.testing.assert_allclose(small_stats.centres, expected)
    heatmap = measure.centre_heatmap(small_stats.centres)
    assert heatmap.sum() == 5
    # (0.15, 0.3) on a 16 x 16 grid: row int(0.3 * 16) = 4, column int(0.15 * 16) = 2.
    assert heatmap[4, 2] == 1
    assert heatmap[0, 0] == 1


def test_image_fields(small_stats: measure.DatasetStats) -> None:
    # A string, a dict with "kind", and absent.
    assert small_stats.counts["weather"] == {"fog": 1, "rain": 1}
    assert small_stats.counts["time_of_day"] == {"day": 2, "night": 1}
    np.testing.assert_array_equal(small_stats.samples["camera.height"], [1.5, 1.7])
    assert "camera.name" not in small_stats.samples
    # 90 degree horizontal fov on 200 px: focal 100 px; pitch 5 degrees lifts the horizon
    # by 100 * tan(5 deg) px on a 100 px tall image.
    np.testing.assert_allclose(small_stats.samples["horizon"],
                               [0.5, 0.5 - np.tan(np.radians(5.0))])


def test_pixels(small_stats: measure.DatasetStats) -> None:
    assert small_stats.images_sampled == 3
    assert small_stats.images_unreadable == []
    np.testing.assert_allclose(sorted(small_stats.samples["brightness"]), [90, 90, 200])
    np.testing.assert_allclose(small_stats.samples["contrast"], 0, atol=1e-9)
    red = small_stats.pixel_histograms["red"]
    assert red.sum() == pytest.approx(1)
    # Bins are 8 levels wide: 90 falls in bin 11 (two images), 200 in bin 25 (one).
    assert red[11] == pytest.approx(2 / 3) and red[25] == pytest.approx(1 / 3)


def test_pixel_measures_of_a_two_level_image() -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[2:] = 200  # half black, half level 200: luma mean 100, standard deviation 100
    mean, std, histograms = measure.pixel_measures(rgb)
    assert (mean, std) == (pytest.approx(100), pytest.approx(100))
    assert histograms["luma"][0] == 0.5 and histograms["green"][25] == 0.5


def test_pixel_sample_limit_and_unreadable_files(small_set: Path) -> None:
    (small_set / "images" / "b.png").write_bytes(b"not a png")
    stats = measure.dataset_statistics(load_dataset(small_set), max_images=2)
    # Two evenly spaced picks of a, b, c are a and c: b's damage goes unseen.
    assert (stats.images_sampled, stats.images_unreadable) == (2, [])
    stats = measure.dataset_statistics(load_dataset(small_set))
    assert (stats.images_sampled, stats.images_unreadable) == (2, ["b.png"])
    stats = measure.dataset_statistics(load_dataset(small_set), max_images=0)
    assert stats.images_sampled == 0 and stats.samples["brightness"].size == 0
    assert stats.pixel_histograms == {}


@pytest.mark.parametrize("decoder", ["installed", "grey-filling"])
def test_stats_counts_a_jpeg_cut_short_as_it_counts_a_broken_file(
        small_set: Path, request: pytest.FixtureRequest, decoder: str) -> None:
    # OpenCV 4.x decodes a JPEG cut short, grey where its data is missing: measured, the
    # grey would pass for the photo's brightness. Refused whatever OpenCV does.
    if decoder == "grey-filling":
        request.getfixturevalue("grey_filling_decoder")
    document = json.loads((small_set / "annotations.json").read_text())
    document["images"][1]["file_name"] = "b.jpg"
    (small_set / "annotations.json").write_text(json.dumps(document))
    (small_set / "images" / "b.png").unlink()
    whole = small_set / "b.jpg"
    make_image(whole, 200, 100)
    data = whole.read_bytes()
    assert data.index(b"\xff\xda") + 20 < len(data) - 200  # the second cut is in its scan
    outputs = []
    for content in (data[:-2], data[:-200], b"not a jpeg"):
        (small_set / "images" / "b.jpg").write_bytes(content)
        stats = measure.dataset_statistics(load_dataset(small_set))
        assert (stats.images_sampled, stats.images_unreadable) == (2, ["b.jpg"])
        result = CliRunner().invoke(cli, ["stats", str(small_set)])
        assert result.exit_code == 0 and "1 unreadable (b.jpg)" in result.output, result.output
        outputs.append(result.output)
    assert outputs[0] == outputs[1] == outputs[2]


def test_sample_images_is_even_and_order_free() -> None:
    images = [{"id": i, "file_name": f"{i:03d}.png"} for i in range(10)]
    picked = measure.sample_images(images, 3)
    assert [image["id"] for image in picked] == [0, 4, 9]
    assert measure.sample_images(list(reversed(images)), 3) == picked
    assert len(measure.sample_images(images, 50)) == 10
    assert measure.sample_images(images, 0) == []


def test_read_downscaled(tmp_path: Path) -> None:
    path = make_image(tmp_path / "big.png", 1000, 400)
    assert measure.read_downscaled(path).shape == (102, 256, 3)
    assert measure.read_downscaled(make_image(tmp_path / "small.png", 20, 10)).shape == (10, 20, 3)
    assert measure.read_downscaled(tmp_path / "missing.png") is None
    (tmp_path / "empty.png").write_bytes(b"")
    assert measure.read_downscaled(tmp_path / "empty.png") is None


def test_bad_boxes_and_orphans_are_counted_not_measured(tmp_path: Path) -> None:
    images = [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}]
    anns = [annotation(1, 1, 1, [0, 0, 0, 5]),                     # zero width
            {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 0},  # no bbox
            annotation(3, 1, 1, [1, 1, 2, 2]),
            annotation(4, 7, 1, [1, 1, 2, 2]),                     # image 7 does not exist
            annotation(5, 1, 42, [1, 1, 4, 2]),                    # unknown category
            annotation(6, 1, 1, [0, 0, 1e308, 1e-10]),             # aspect beyond floats
            {"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0,
             "bbox": [10**400, 0, 1, 1]}]                              # x beyond floats
    stats = measure.dataset_statistics(load_dataset(make_coco_folder(tmp_path / "d", images, anns)))
    assert (stats.num_objects, stats.invalid_boxes, stats.orphan_annotations) == (6, 4, 1)
    np.testing.assert_array_equal(stats.samples["box_width"], [2, 4])
    assert stats.class_counts["unknown id 42"] == 1
    np.testing.assert_array_equal(stats.samples["objects_per_image"], [6])


@pytest.mark.parametrize(("document", "message"), [
    # load_dataset refuses entries that are not objects or lack the keys readers index by
    ({"images": ["a.png"], "annotations": [], "categories": []},
     "images[0]: expected an object"),
    ({"images": [], "annotations": [{"id": 1}], "categories": []},
     "annotations[0]: missing 'image_id'"),
    ({"images": [], "annotations": [], "categories": [{"id": 1}]},
     "categories[0]: missing 'name'"),
    ({"images": [], "annotations": [{"id": [1], "image_id": 1, "category_id": 1}],
      "categories": []}, "annotations[0].id: expected an integer id"),
])
def test_unmeasurable_documents(tmp_path: Path, document: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(message)):
        measure.dataset_statistics(load_dataset(path))


def test_empty_dataset(tmp_path: Path) -> None:
    stats = measure.dataset_statistics(load_dataset(make_coco_folder(tmp_path / "e", [], [])))
    assert stats.num_images == stats.num_objects == 0
    document = json.loads(to_json(stats_to_json(stats)))
    assert document["distributions"]["box_height"]["summary"]["median"] is None


def test_stats_to_json(small_stats: measure.DatasetStats) -> None:
    document = json.loads(to_json(stats_to_json(small_stats)))
    assert document["images"] == 3 and document["objects"] == 5
    assert document["crowd_regions"] == 1
    assert document["classes"]["car"] == 3
    height = document["distributions"]["box_height"]
    assert height["summary"]["median"] == 30 and height["unit"] == "px"
    assert sum(height["histogram"]["counts"]) == 5
    assert len(height["histogram"]["edges"]) == len(height["histogram"]["counts"]) + 1
    per_image = document["distributions"]["objects_per_image"]["histogram"]
    assert per_image["counts"] == [1, 0, 1, 1]  # one bin per count 0..3
    assert document["categorical"]["weather"] == {"fog": 1, "rain": 1}
    assert np.sum(document["box_centres"]["heatmap"]) == 5
    assert document["pixels"]["images_sampled"] == 3


# --- binning ---------------------------------------------------------------------------


def test_histogram_edges_are_shared_and_cover_every_sample() -> None:
    small, large = np.array([5.0, 8.0]), np.array([100.0, 400.0])
    edges = measure.histogram_edges(measure.quantity("box_height"), small, large)
    assert edges[0] == 5.0 and edges[-1] == pytest.approx(400.0)
    assert np.allclose(np.diff(np.log(edges)), np.log(80) / measure.DEFAULT_BINS)  # log spaced
    assert measure.histogram(np.concatenate([small, large]), edges).sum() == 4
    ints = measure.histogram_edges(measure.quantity("objects_per_image"), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(ints, [-0.5, 0.5, 1.5, 2.5, 3.5])
    fixed = measure.histogram_edges(measure.quantity("visibility"), np.array([0.2]))
    assert (fixed[0], fixed[-1]) == (0.0, 1.0)
    single = measure.histogram_edges(measure.quantity("camera.height"), np.array([1.6, 1.6]))
    assert single[0] < 1.6 < single[-1]


def test_quantity_lookup() -> None:
    assert measure.quantity("camera.pitch_deg").label == "camera pitch_deg"
    with pytest.raises(KeyError):
        measure.quantity("nonsense")


def test_object_contrast_of_boxes_only(tmp_path: Path) -> None:
    # synthgen records each object's contrast in its final image; ignore regions (too
    # faint to box, among others) are counted apart and never enter the distribution.
    anns = [annotation(1, 1, 1, [0, 0, 10, 10], contrast=0.2),
            annotation(2, 1, 1, [20, 0, 10, 10], contrast=0.05),
            annotation(3, 1, 4, [40, 0, 10, 10]),  # a set (or box) without the field
            annotation(4, 1, 1, [60, 0, 10, 10], iscrowd=1, contrast=0.004, ignored="contrast")]
    folder = make_coco_folder(tmp_path / "c", [{"id": 1, "file_name": "a.png", "width": 100,
                                                "height": 100}], anns)
    stats = measure.dataset_statistics(load_dataset(folder))
    np.testing.assert_array_equal(stats.samples["object_contrast"], [0.2, 0.05])
    assert (stats.num_objects, stats.num_crowd, stats.images_with_crowd) == (3, 1, 1)
    document = stats_to_json(stats)
    assert document["distributions"]["object_contrast"]["summary"]["median"] == \
        pytest.approx(0.125)
    assert document["crowd_regions"] == 1 and document["crowd_classes"] == {"car": 1}

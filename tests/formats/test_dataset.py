"""Reading COCO folders: anything malformed is a DatasetError (exit 2), never a KeyError."""

from __future__ import annotations

import json

import pytest

from synthgen.errors import DatasetError, OutputError
from synthgen.formats.dataset import is_synthetic_image, load_dataset, refuse_output_inside
from tests.factories import annotation, make_coco_folder

IMAGE = {"id": 1, "file_name": "a.png", "width": 16, "height": 8}


@pytest.mark.parametrize("document,message", [
    # not JSON at all
    ("{nope", "not valid JSON"),
    # a list at the top level
    ("[]", "expected a JSON object"),
    # a list missing
    ({"images": [], "annotations": []}, "expected a list under 'categories'"),
    # an annotation that is not an object
    ({"images": [IMAGE], "annotations": [3], "categories": []},
     "annotations[0]: expected an object"),
    # an annotation without image_id
    ({"images": [IMAGE], "annotations": [{"id": 1, "category_id": 1}], "categories": []},
     "annotations[0]: missing 'image_id'"),
    # an image without file_name
    ({"images": [{"id": 1}], "annotations": [], "categories": []},
     "images[0]: missing 'file_name'"),
    # a category name that is not a string
    ({"images": [], "annotations": [], "categories": [{"id": 1, "name": ["car"]}]},
     "categories[0].name: expected a string"),
    # a file name that is not a string
    ({"images": [{"id": 1, "file_name": {"x": 1}}], "annotations": [], "categories": []},
     "images[0].file_name: expected a string"),
    # an id that is a list
    ({"images": [IMAGE], "annotations": [{"id": [1], "image_id": 1, "category_id": 1}],
      "categories": []}, "annotations[0].id: expected an integer id"),
    # an integer of more digits than Python's JSON reader converts
    pytest.param('{"images": [{"id": 1' + "0" * 5000 + '}], "annotations": [], '
                 '"categories": []}', "Exceeds the limit", id="huge-int"),
])
def test_malformed_documents_are_dataset_errors(tmp_path, document, message):
    path = tmp_path / "annotations.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_dataset(tmp_path)


def test_folder_without_annotations_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no annotations.json"):
        load_dataset(tmp_path)


def test_reads_a_folder_and_indexes_annotations(tmp_path):
    root = make_coco_folder(tmp_path / "d", [IMAGE], [annotation(1, 1, 1, [1, 1, 4, 4]),
                                                     annotation(2, 1, 4, [2, 2, 3, 3])])
    dataset = load_dataset(root)
    assert dataset.image_path(dataset.images[0]) == root / "images" / "a.png"
    assert [a["id"] for a in dataset.annotations_for(1)] == [1, 2]
    assert dataset.annotations_for(99) == []
    assert dataset.category_names()[4] == "pedestrian"


def test_a_mix_output_file_finds_its_images(tmp_path):
    # synthgen mix writes OUT/annotations/*.json beside OUT/images/.
    root = make_coco_folder(tmp_path / "m", [IMAGE], [])
    (root / "annotations").mkdir()
    (root / "annotations.json").rename(root / "annotations" / "train.json")
    dataset = load_dataset(root / "annotations" / "train.json")
    assert dataset.image_path(dataset.images[0]) == root / "images" / "a.png"
    assert dataset.image_path(dataset.images[0]).is_file()


@pytest.mark.parametrize("linked", ["annotations", "images"])
def test_no_report_goes_into_an_input_folder_reached_through_a_link(tmp_path, linked):
    # annotations/ and images/ side by side, one of them a link to a folder elsewhere:
    # that folder is the input's too.
    root = make_coco_folder(tmp_path / "m", [IMAGE], [])
    (root / "annotations").mkdir()
    (root / "annotations.json").rename(root / "annotations" / "train.json")
    elsewhere = tmp_path / "elsewhere"
    (root / linked).rename(elsewhere)
    (root / linked).symlink_to(elsewhere)
    dataset = load_dataset(root / "annotations" / "train.json")
    for inside in (elsewhere / "report.html", root / "report.html"):
        with pytest.raises(OutputError, match="inside the dataset folder"):
            refuse_output_inside("--out", inside, [dataset])
    refuse_output_inside("--out", tmp_path / "report.html", [dataset])


def test_json_nested_too_deep_is_a_dataset_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(DatasetError, match="nests too deep"):
        load_dataset(path)


@pytest.mark.parametrize("manifest", ["[1, 2]", '"x"', "{oops"])
def test_a_manifest_that_is_not_an_object_is_no_manifest(tmp_path, manifest):
    root = make_coco_folder(tmp_path / "d", [IMAGE], [])
    (root / "manifest.json").write_text(manifest, encoding="utf-8")
    assert load_dataset(root).manifest is None


@pytest.mark.parametrize("extra,synthetic", [
    # what generate writes on every image
    ({"scene": "urban", "seed": 7}, True),
    # what mix writes on the images of its synthetic inputs
    ({"source": "synthetic"}, True),
    # ... and of its real input
    ({"source": "real"}, False),
    # a real set's entry with a field of the same name, but not both
    ({"scene": "Berlin"}, False),
    # a plain COCO entry
    ({}, False),
])
def test_a_rendered_image_is_told_from_a_real_one(extra, synthetic):
    assert is_synthetic_image({**IMAGE, **extra}) is synthetic

"""What the analysed data says of itself: class names, file names and order of a tf.data set, metadata checks."""

import pandas as pd
import pytest
from _images import write_class_folders

import layerlens as ll
from layerlens.exceptions import DatasetWarning, InvalidInputError
from layerlens.model._inputs import dataset_origin


@pytest.fixture(scope="module")
def digit_tree(tmp_path_factory, digits):
    """90 test digits as 16x16 8-bit PNGs in one folder per class, as Keras' folder reader expects."""
    return write_class_folders(tmp_path_factory.mktemp("tree") / "Testing", digits[1], 90, "scan_{:03d}.png")


def _keras_dataset(root, **options):
    import keras

    return keras.utils.image_dataset_from_directory(
        root, image_size=(16, 16), color_mode="grayscale", batch_size=16, verbose=False, **options
    )


def test_a_keras_dataset_names_its_files_through_maps_and_prefetches(digit_tree):
    dataset = _keras_dataset(digit_tree, shuffle=False)
    mapped = dataset.map(lambda x, y: (x / 255.0, y)).cache().prefetch(2)
    origin = dataset_origin(mapped)
    assert origin.files is not None and len(origin.files) == 90 and origin.why_no_files is None
    assert origin.files[0].startswith("0/scan_") and origin.root == str(digit_tree)
    assert origin.class_names == tuple(dataset.class_names) and origin.batches == 6


@pytest.mark.parametrize(
    ("change", "why"),
    [(lambda d: d, "shuffles"), (lambda d: d.take(2), "changes which images it yields")],
    ids=["keras-shuffle", "take"],
)
def test_an_order_that_cannot_be_trusted_gives_no_file_names_and_says_why(digit_tree, change, why):
    shuffled = "shuffles" in why
    origin = dataset_origin(change(_keras_dataset(digit_tree, shuffle=shuffled, seed=1)))
    assert origin.files is None and why in origin.why_no_files


def test_analyze_takes_file_and_class_names_from_a_keras_dataset(sequential_model, digit_tree):
    dataset = _keras_dataset(digit_tree, shuffle=False).map(lambda x, y: (x / 255.0, y))
    result = ll.analyze(sequential_model, dataset, progress=False, explain=0)
    listed = sorted(p.relative_to(digit_tree).as_posix() for p in digit_tree.rglob("*.png"))
    assert result.paths["file"].tolist() == listed  # class by class, as Keras lists them
    assert result.class_names == tuple(str(c) for c in range(10)) and result.name == "Testing"
    assert result.source["reader"] == "keras" and result.pictures  # the files read again at their own size


def test_a_shuffled_keras_dataset_says_why_it_has_no_file_names(sequential_model, digit_tree):
    dataset = _keras_dataset(digit_tree, shuffle=True, seed=3).map(lambda x, y: (x / 255.0, y))
    with pytest.warns(DatasetWarning, match=r"shuffles its images .*make the dataset with shuffle=False"):
        result = ll.analyze(sequential_model, dataset, progress=False, explain=0)
    assert result.files is None


def test_a_file_column_of_the_metadata_names_the_images(sequential_model, digits):
    test = digits[1].subset(range(30))
    table = pd.DataFrame({"file": [f"p{i}.png" for i in range(30)], "site": ["A", "B", "C"] * 10})
    result = ll.analyze(sequential_model, test.images, test.labels, metadata=table, progress=False, explain=0)
    assert result.paths["file"].tolist() == table["file"].tolist()
    assert list(result.metadata.columns) == ["site"]


def test_metadata_of_a_dataset_is_checked_before_the_pass(sequential_model, digit_tree):
    dataset = _keras_dataset(digit_tree, shuffle=False).map(lambda x, y: (x / 255.0, y))
    # 90 files are listed, so the length is known before any image goes through the model.
    with pytest.raises(InvalidInputError, match="metadata: expected 90 rows, one per image; received 3"):
        ll.analyze(sequential_model, dataset, metadata={"site": ["A", "B", "C"]}, progress=False, explain=0)
    with pytest.raises(InvalidInputError, match=r"metadata: expected column names other than .*rename \['doubt'\]"):
        ll.analyze(sequential_model, dataset, metadata={"doubt": ["x"] * 90}, progress=False, explain=0)

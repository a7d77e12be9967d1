"""The site of a volume run, in Python: the slice viewer's data files (layerlens/site/_volumes.py), their axes,
shapes, bytes and heat maps, and the pages that load them.

A tiny Conv3D classifier is trained once for the module on 12x16x20 volumes (class 1 holds a bright box) and
analysed with integrated gradients on two volumes; the sites are built from it and from copies of its analysis
changed by hand (other axes, a shrunk volume, no volume kept). The browser tests are in
test_site_volumes_browser.py and reuse :func:`volume_run` and :func:`read_payload`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

SHAPE = (12, 16, 20)
N_VOLUMES = 48
PREFIX = "window.LAYERLENS_VOLUME = "


def volume_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``N_VOLUMES`` noisy volumes ``(12, 16, 20, 1)``; class 1 (odd positions) holds a bright 4x5x6 box."""
    rng = np.random.default_rng(seed)
    x = rng.random((N_VOLUMES, *SHAPE, 1)).astype("float32") * 0.3
    y = np.arange(N_VOLUMES) % 2
    for i in np.flatnonzero(y == 1):
        d, h, w = rng.integers(2, 7), rng.integers(2, 10), rng.integers(2, 13)
        x[i, d : d + 4, h : h + 5, w : w + 6] += 0.6
    return x, y


def volume_run(explain: int = 2, methods: tuple[str, ...] = ("integrated_gradients",)):
    """The analysis of a small Conv3D model trained on :func:`volume_data` (a few seconds on a CPU)."""
    import keras

    import layerlens as ll

    x, y = volume_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((*SHAPE, 1)),
            keras.layers.Conv3D(6, 3, activation="relu"),
            keras.layers.MaxPooling3D(2),
            keras.layers.Conv3D(8, 3, activation="relu"),
            keras.layers.GlobalMaxPooling3D(),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="boxes3d",
    )
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    return ll.analyze(model, x, y, name="boxes", explain=explain, explain_methods=methods, progress=False)


def read_payload(path: Path) -> dict:
    """The value a viewer's data file gives ``window.LAYERLENS_VOLUME``."""
    text = path.read_text(encoding="ascii")
    assert text.startswith(PREFIX) and text.endswith(";\n")
    return json.loads(text[len(PREFIX) : -2])


def decoded(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def with_axes(analysis, axes: str):
    """The same run as if its volumes had been given with their axes in the order ``axes`` (a copy by hand)."""
    from layerlens.options import VOLUME_AXES

    order = [VOLUME_AXES.index(axis) for axis in axes]

    def move(array):
        return np.transpose(array, (*order, *range(3, array.ndim)))

    return dataclasses.replace(
        analysis,
        settings=dataclasses.replace(analysis.settings, axes=axes),
        volumes={i: move(v) for i, v in analysis.volumes.items()},
        explained_images={i: move(v) for i, v in analysis.explained_images.items()},
        explanations=tuple(dataclasses.replace(e, heatmap=move(e.heatmap)) for e in analysis.explanations),
    )


@pytest.fixture(scope="module")
def run():
    return volume_run()


@pytest.fixture(scope="module")
def site(run, tmp_path_factory):
    from layerlens.site import build_site

    out = tmp_path_factory.mktemp("volume-site") / "site"
    build_site([run], out, progress=False)
    return out / "runs" / "01-boxes"


def test_the_run_is_a_volume_run_with_explained_volumes(run):
    assert run.settings.axes == "DHW"
    assert run.volumes and all(v.shape == (*SHAPE, 1) and v.dtype == np.uint8 for v in run.volumes.values())
    explained = sorted(run.explained_images)
    assert len(explained) == 2 and all(e.heatmap.shape == SHAPE for e in run.explanations)


def test_every_kept_volume_gets_a_data_file_and_a_viewer(run, site):
    from layerlens.site._volumes import is_volume_run

    assert is_volume_run(run)
    assert (site.parent.parent / "assets" / "volume.js").is_file()
    files = sorted(p.stem for p in (site / "data" / "volumes").iterdir())
    assert files == sorted(f"{i:05d}" for i in run.volumes)
    for index in run.volumes:
        page = (site / "samples" / f"{index:05d}.html").read_text(encoding="utf-8")
        assert f'<script src="../data/volumes/{index:05d}.js" defer></script>' in page
        assert '<script src="../../../assets/volume.js" defer></script>' in page
        assert page.count("<canvas ") == 3
        for plane in ("axial", "coronal", "sagittal"):
            assert f'<label for="slider-{plane}">' in page and f'id="slider-{plane}"' in page


def test_payload_holds_the_volume_in_canonical_order_with_its_bytes(run, site):
    for index, volume in run.volumes.items():
        payload = read_payload(site / "data" / "volumes" / f"{index:05d}.js")
        assert payload["image"] == index and payload["axes"] == "DHW" and payload["shape"] == list(SHAPE)
        assert payload["channels"] == 1
        voxels = decoded(payload["voxels"], np.uint8)
        assert voxels.size == int(np.prod(SHAPE))  # one byte a voxel
        np.testing.assert_array_equal(voxels.reshape(*SHAPE, 1), volume)


def test_an_explained_volume_starts_at_its_heat_maximum_and_carries_its_quantised_heat(run, site):
    from layerlens.figures._overlay import heat_limit

    speaking = [e for e in run.explanations if e.heatmap.max() > 0]
    assert speaking  # the explanation of a volume of class 1 speaks for its box
    for explanation in speaking:
        index = explanation.image_index
        payload = read_payload(site / "data" / "volumes" / f"{index:05d}.js")
        assert payload["startFrom"] == "heat" and payload["startMethod"] == "integrated_gradients"
        assert payload["start"] == list(np.unravel_index(int(explanation.heatmap.argmax()), SHAPE))
        [heat] = payload["heat"]
        assert heat["method"] == "integrated_gradients" and "red" in heat["caption"]
        assert heat["limit"] == pytest.approx(heat_limit(explanation.heatmap))
        q = decoded(heat["data"], np.int8).reshape(SHAPE)
        expected = np.clip(explanation.heatmap / heat["limit"], -1, 1) * 127
        assert np.abs(q - expected).max() <= 0.5 + 1e-3
        assert np.abs(q).max() == 127  # the top 1% saturates
        page = (site / "samples" / f"{index:05d}.html").read_text(encoding="utf-8")
        d, h, w = payload["start"]
        assert f"maximum of the integrated gradients heat map (voxel D {d}, H {h}, W {w})" in page
        assert 'id="volume-heat" checked' in page and 'id="volume-opacity"' in page


def test_a_heat_map_with_nothing_for_the_class_starts_at_the_centre(run, tmp_path):
    from layerlens.site import build_site

    explanation = run.explanations[0]
    silent = dataclasses.replace(explanation, heatmap=-np.abs(explanation.heatmap))
    build_site([dataclasses.replace(run, explanations=(silent,))], tmp_path / "site", progress=False)
    folder = tmp_path / "site" / "runs" / "01-boxes"
    payload = read_payload(folder / "data" / "volumes" / f"{explanation.image_index:05d}.js")
    assert payload["startFrom"] == "centre" and payload["start"] == [6, 8, 10] and len(payload["heat"]) == 1
    page = (folder / "samples" / f"{explanation.image_index:05d}.html").read_text(encoding="utf-8")
    assert "crossing at first at its centre (no heat map of it has a voxel for the class)" in page


def test_an_unexplained_volume_starts_at_its_centre(run, site):
    index = next(i for i in run.volumes if i not in run.explained_images)
    payload = read_payload(site / "data" / "volumes" / f"{index:05d}.js")
    assert payload["heat"] == [] and payload["startFrom"] == "centre" and payload["start"] == [6, 8, 10]
    page = (site / "samples" / f"{index:05d}.html").read_text(encoding="utf-8")
    assert "crossing at first at its centre" in page and "volume-heat" not in page


def test_other_axes_give_the_same_payload(run, tmp_path):
    """Volumes given as H, W, D (and their heat maps) are drawn as the same anatomy: the payload is the same."""
    from layerlens.site import build_site

    hwd = with_axes(run, "HWD")
    assert next(iter(hwd.volumes.values())).shape == (16, 20, 12, 1)
    build_site([run, hwd], tmp_path / "site", progress=False)
    runs = tmp_path / "site" / "runs"
    for index in run.volumes:
        first = read_payload(runs / "01-boxes" / "data" / "volumes" / f"{index:05d}.js")
        second = read_payload(runs / "02-boxes" / "data" / "volumes" / f"{index:05d}.js")
        assert second.pop("axes") == "HWD" and first.pop("axes") == "DHW"
        assert first == second
    page = (runs / "02-boxes" / "samples" / f"{next(iter(run.volumes)):05d}.html").read_text(encoding="utf-8")
    assert "across D (array axis 3)" in page and "across H (array axis 1)" in page and "across W (array axis 2)" in page
    assert "16 H × 20 W × 12 D voxels, axes HWD" in page


def test_a_heat_map_is_resampled_to_a_shrunk_volume(run, tmp_path):
    """The run may keep a volume smaller than the model's input; its heat maps are averaged down to it."""
    from layerlens.site import build_site
    from layerlens.site._volumes import resample

    index = run.explanations[0].image_index
    heat = np.full(SHAPE, -0.01, np.float32)
    heat[8:10, 4:6, 14:16] = 1.0  # a hot block, 2 voxels a side: one voxel at half the size
    explanation = dataclasses.replace(run.explanations[0], heatmap=heat)
    small = run.volumes[index][::2, ::2, ::2]
    shrunk = dataclasses.replace(run, volumes={index: small}, explanations=(explanation,))
    build_site([shrunk], tmp_path / "site", progress=False)
    folder = tmp_path / "site" / "runs" / "01-boxes"
    payload = read_payload(folder / "data" / "volumes" / f"{index:05d}.js")
    assert payload["shape"] == [6, 8, 10] and payload["start"] == [4, 2, 7]
    q = decoded(payload["heat"][0]["data"], np.int8).reshape(6, 8, 10)
    assert q[4, 2, 7] == 127 and (q < 0).sum() > 0.9 * q.size
    assert decoded(payload["voxels"], np.uint8).size == 6 * 8 * 10
    np.testing.assert_allclose(resample(heat, (12, 16, 20)), heat)
    assert resample(heat, (6, 8, 10)).shape == (6, 8, 10)
    # one data file, only for the image with a volume; the others' pages say the run kept none
    assert [p.name for p in (folder / "data" / "volumes").iterdir()] == [f"{index:05d}.js"]
    other = next(i for i in run.volumes if i != index)
    page = (folder / "samples" / f"{other:05d}.html").read_text(encoding="utf-8")
    assert "the run kept no volume of this image" in page and "<canvas" not in page


def test_the_two_dimensional_parts_show_the_axial_face_and_the_slice_through_the_maximum(run, site):
    """The large picture and thumbnails of a volume run show its central axial slice; each explanation's picture
    the axial slice through its heat map's maximum, named under it."""
    from layerlens.figures import through_maximum
    from layerlens.site._volumes import face, flat_analysis

    flat, slices = flat_analysis(run)
    for explanation in flat.explanations:
        original = next(e for e in run.explanations if e.image_index == explanation.image_index)
        _, _, k = through_maximum(run.explained_images[explanation.image_index], original.heatmap)
        assert k == int(np.unravel_index(int(original.heatmap.argmax()), SHAPE)[0])
        np.testing.assert_array_equal(explanation.heatmap, original.heatmap[k])
        where = slices[(explanation.image_index, "integrated_gradients")]
        np.testing.assert_array_equal(where.image, run.explained_images[explanation.image_index][k])
        assert (site / "explanations" / f"{explanation.image_index:05d}_integrated_gradients.png").is_file()
        page = (site / "samples" / f"{explanation.image_index:05d}.html").read_text(encoding="utf-8")
        assert f"(axial slice {k + 1} of {SHAPE[0]}, through its maximum)" in page
        assert "Each heat map over the axial slice through its maximum; the slices above show" in page
    for index, image in flat.explained_images.items():
        np.testing.assert_array_equal(image, run.explained_images[index][SHAPE[0] // 2])
    volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(face(volume, "DHW", "slice"), volume[1])
    np.testing.assert_array_equal(face(np.transpose(volume, (1, 2, 0)), "HWD", "mip"), volume.max(axis=0))
    index = next(iter(run.volumes))
    page = (site / "samples" / f"{index:05d}.html").read_text(encoding="utf-8")
    assert re.search(r"\(its central axial slice; all three planes below\)", page)


def test_explanation_pictures_do_not_depend_on_the_order_of_the_axes(run, tmp_path):
    from layerlens.site import build_site

    build_site([run, with_axes(run, "WDH")], tmp_path / "site", progress=False)
    first, second = (tmp_path / "site" / "runs" / name / "explanations" for name in ("01-boxes", "02-boxes"))
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and len(names) == 4
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in names)


def test_a_saved_and_loaded_run_builds_the_same_volume_files(run, tmp_path):
    """The volumes a run keeps survive ``save`` and ``load`` byte for byte, so the site is the same."""
    import layerlens as ll
    from layerlens.site import build_site

    unexplained = dataclasses.replace(run, explanations=(), explained_images={})
    unexplained.save(tmp_path / "run")
    loaded = ll.load(tmp_path / "run")
    build_site([unexplained], tmp_path / "a", progress=False)
    build_site([loaded], tmp_path / "b", progress=False)
    first = sorted((tmp_path / "a" / "runs" / "01-boxes" / "data" / "volumes").iterdir())
    second = sorted((tmp_path / "b" / "runs" / "01-boxes" / "data" / "volumes").iterdir())
    assert [p.name for p in first] == [p.name for p in second] and first
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))


def test_byte_counts_stay_near_the_volumes_own(run, site):
    """A data file is the volume's bytes and its heat maps' in base64 (4/3), and little else."""
    for index, volume in run.volumes.items():
        size = (site / "data" / "volumes" / f"{index:05d}.js").stat().st_size
        raw = volume.nbytes + sum(e.heatmap.size for e in run.explanations_of(index))
        assert raw * 4 / 3 <= size <= raw * 4 / 3 + 1200

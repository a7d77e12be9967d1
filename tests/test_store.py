import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import layerlens as ll
from layerlens.datasets import ImageSet
from layerlens.exceptions import InvalidInputError, RunFormatError
from layerlens.explanations import METHODS
from layerlens.run import _store as store
from layerlens.run._metadata import check_metadata

# Every method on a few images: the runs of this module hold explanations of each kind.
EXPLAINED = dict(progress=False, explain=5, explain_methods=METHODS)


@pytest.fixture(scope="module")
def analysis(sequential_model, digits):
    return ll.analyze(sequential_model, digits[1].subset(range(120)), layers=["conv2", "dense"], **EXPLAINED)


@pytest.fixture
def run(analysis, tmp_path):
    return analysis.save(tmp_path / "run")


def test_round_trip_is_identical(analysis, run):
    loaded = ll.load(run)
    assert (loaded.name, loaded.class_names, loaded.model, loaded.settings) == (
        analysis.name,
        analysis.class_names,
        analysis.model,
        analysis.settings,
    )
    np.testing.assert_array_equal(loaded.labels, analysis.labels)
    np.testing.assert_array_equal(loaded.probabilities, analysis.probabilities)
    np.testing.assert_array_equal(loaded.thumbnails, analysis.thumbnails)
    for a, b in zip(loaded.layers, analysis.layers):
        assert (a.name, a.kind, a.output_shape, a.reduction) == (b.name, b.kind, b.output_shape, b.reduction)
        for field in ("features", "reduced", "coords", "map_centers"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
            assert getattr(a, field).dtype == getattr(b, field).dtype
        assert a.clusters.names == b.clusters.names and a.clusters.k_reason == b.clusters.k_reason
        np.testing.assert_equal(a.clusters.k_scores, b.clusters.k_scores)  # NaN equals NaN here
        np.testing.assert_array_equal(a.clusters.assignments, b.clusters.assignments)
        np.testing.assert_array_equal(a.clusters.centers, b.clusters.centers)
        assert a.separability == b.separability
    assert loaded.paths.equals(analysis.paths)
    assert loaded.metrics.to_dict() == analysis.metrics.to_dict()
    assert loaded.path_stats.to_dict() == analysis.path_stats.to_dict()
    assert repr(loaded) == repr(analysis)
    assert loaded.created == analysis.created and len(loaded.model.layers) > 2


def test_explanations_survive_the_round_trip(analysis, run):
    loaded = ll.load(run)
    assert len(analysis.explanations) == 5 * len(METHODS)
    assert list(loaded.explained_images) == list(analysis.explained_images)  # in the order chosen, mistakes first
    for index, image in analysis.explained_images.items():
        np.testing.assert_array_equal(loaded.explained_images[index], image)
    for a, b in zip(loaded.explanations, analysis.explanations, strict=True):
        assert (a.method, a.target, a.image_index, a.layer) == (b.method, b.target, b.image_index, b.layer)
        # Heat maps are stored in float16 relative to their largest magnitude.
        np.testing.assert_allclose(a.heatmap, b.heatmap, rtol=0, atol=1e-3 * np.abs(b.heatmap).max())
        assert (a.segments is None) == (b.segments is None) and (a.method == "lime") == (b.segments is not None)
        if b.segments is not None:
            np.testing.assert_array_equal(a.segments, b.segments)
            np.testing.assert_array_equal(a.segment_weights, b.segment_weights)
        assert np.isnan(a.seconds) and b.seconds > 0  # timings are not stored: saves stay byte-identical
    pictures = sorted(p.name for p in (run / "explanations").iterdir())
    expected = {f"{i:05d}.png" for i in analysis.explained_images}
    expected |= {f"{e.image_index:05d}_{e.method}.png" for e in analysis.explanations}
    assert pictures == sorted(expected)


def test_a_changed_explanation_picture_is_caught(run):
    picture = next((run / "explanations").glob("*_lime.png"))
    picture.write_bytes(picture.read_bytes()[:-8])
    with pytest.raises(RunFormatError, match="explanations .* is corrupt"):
        ll.load(run)


def test_saving_twice_gives_identical_bytes(analysis, run, tmp_path):
    other = analysis.save(tmp_path / "again" / "run")
    files = sorted(p.relative_to(run) for p in run.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for name in files:
        assert (run / name).read_bytes() == (other / name).read_bytes(), name


def test_two_analyses_with_the_same_seed_save_identical_runs(sequential_model, digits, analysis, run, tmp_path):
    again = ll.analyze(sequential_model, digits[1].subset(range(120)), layers=["conv2", "dense"], **EXPLAINED)
    other = again.save(tmp_path / "second" / "run")
    for name in ("manifest.json", "arrays.npz", "paths.csv"):
        assert (run / name).read_bytes() == (other / name).read_bytes(), name


def test_run_folder_layout(analysis, run):
    manifest = json.loads((run / "manifest.json").read_text())
    # A run of up to 20,000 images keeps version 4, which earlier layerlens versions read (5: big runs).
    assert manifest["format"] == "layerlens-run" and manifest["format_version"] == store.SMALL_RUN_VERSION == 4
    assert [layer["name"] for layer in manifest["layers"]] == ["conv2", "dense"]
    assert len(list((run / "thumbnails").glob("*.png"))) == analysis.n_images
    assert (run / "README.md").read_text().startswith("# layerlens run")
    assert (run / "paths.csv").read_text().splitlines()[0].startswith("image,file,true,predicted,confidence,correct")
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_saving_over_an_earlier_run_replaces_it(analysis, run):
    (run / "thumbnails" / "stale.png").write_bytes(b"old")
    analysis.save(run)
    assert not (run / "thumbnails" / "stale.png").exists()


def test_refuses_to_overwrite_other_folders(analysis, tmp_path):
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("precious")
    with pytest.raises(InvalidInputError, match="exists and is not a layerlens run folder; refusing"):
        analysis.save(tmp_path / "thesis")
    assert (tmp_path / "thesis" / "chapter1.tex").read_text() == "precious"


def test_a_foreign_manifest_does_not_make_a_folder_replaceable(analysis, tmp_path):
    app = tmp_path / "webapp"
    app.mkdir()
    (app / "manifest.json").write_text('{"name": "my progressive web app"}')
    (app / "index.html").write_text("<html></html>")
    with pytest.raises(InvalidInputError, match="refusing to overwrite"):
        analysis.save(app)
    assert (app / "index.html").exists()


def test_failed_replacement_keeps_the_earlier_run(analysis, run, monkeypatch):
    real_rename = store.Path.rename

    def rename(self, target):
        if self.name.endswith(".partial"):
            raise OSError("rename failed")
        return real_rename(self, target)

    monkeypatch.setattr(store.Path, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        analysis.save(run)
    monkeypatch.undo()
    assert sorted(p.name for p in run.parent.iterdir()) == ["run"]
    assert ll.load(run).n_images == analysis.n_images


def test_failed_save_leaves_nothing_behind(analysis, tmp_path, monkeypatch):
    def broken(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(store.Path, "write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        analysis.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def corrupt_arrays(run):
    data = bytearray((run / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "arrays.npz").write_bytes(bytes(data))


def edit_manifest(**changes):
    def edit(run):
        manifest = json.loads((run / "manifest.json").read_text())
        manifest.update(changes)
        (run / "manifest.json").write_text(json.dumps(manifest))

    return edit


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (corrupt_arrays, "arrays.npz in .* is corrupt"),
        (lambda run: (run / "thumbnails" / "00007.png").write_bytes(b"x"), "thumbnails in .* is corrupt"),
        (lambda run: (run / "paths.csv").write_text("image\n"), "paths.csv in .* is corrupt"),
        (
            lambda run: (run / "thumbnails" / "00007.png").unlink(),
            "incomplete: cannot read thumbnails/00007.png",
        ),
        (lambda run: (run / "arrays.npz").unlink(), "incomplete: cannot read arrays.npz"),
        (lambda run: (run / "manifest.json").write_text("{not json"), "manifest.json .* is not valid JSON"),
        (lambda run: (run / "manifest.json").unlink(), "is not a layerlens run folder"),
        (
            edit_manifest(format_version=99),
            "has format version 99.*reads versions up to 5. Upgrade layerlens",
        ),
        (edit_manifest(format="something-else"), "does not describe a 'layerlens-run'"),
        (edit_manifest(n_images=5), "do not match the manifest's 5 images"),
        (edit_manifest(layers="nonsense"), "is malformed"),
        (edit_manifest(path_statistics=[]), "is malformed"),
    ],
    ids=[
        "arrays-bitflip",
        "thumbnail-changed",
        "paths-changed",
        "thumbnail-missing",
        "arrays-missing",
        "bad-json",
        "no-manifest",
        "newer-version",
        "other-format",
        "wrong-count",
        "malformed",
        "malformed-statistics",
    ],
)
def test_damaged_runs_are_refused(run, damage, match):
    damage(run)
    with pytest.raises(RunFormatError, match=match):
        ll.load(run)


def test_loading_does_not_import_tensorflow(run):
    code = f"import sys, layerlens; a = layerlens.load({str(run)!r}); print(a.n_images, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["120", "False"]


def test_saving_over_a_run_can_be_refused(analysis, run):
    with pytest.raises(InvalidInputError, match="already holds a layerlens run; pass overwrite=True to replace it"):
        analysis.save(run, overwrite=False)
    assert ll.load(run).n_images == analysis.n_images


def test_files_reach_the_csv(sequential_model, digits, tmp_path):
    test = digits[1].subset(range(10))
    named = ImageSet(test.images, test.labels, test.class_names, files=tuple(f"dir/scan {i}.png" for i in range(10)))
    saved = ll.analyze(sequential_model, named, layers=["dense"], n_clusters=2, progress=False, explain=0).save(
        tmp_path / "r"
    )
    rows = (saved / "paths.csv").read_text().splitlines()
    assert rows[1].startswith("0,dir/scan 0.png,")
    assert ll.load(saved).paths["file"].tolist() == list(named.files)


def _as_version_2(manifest):
    """What version 2 wrote: no explanations."""
    manifest["format_version"] = 2
    del manifest["settings"]["explain"], manifest["settings"]["explain_methods"]
    del manifest["explanations"], manifest["explained_images"], manifest["checksums"]["explanations"]


def test_runs_of_format_version_2_still_load(run):
    manifest = json.loads((run / "manifest.json").read_text())
    _as_version_2(manifest)
    (run / "manifest.json").write_text(json.dumps(manifest))
    loaded = ll.load(run)
    assert loaded.explanations == () and loaded.explained_images == {}
    assert (loaded.settings.explain, loaded.settings.explain_methods) == (0, ())


def test_runs_of_format_version_1_still_load(analysis, run):
    """Version 1 stored the between/within ratio B / W and recorded neither pixel scale nor branches."""
    manifest = json.loads((run / "manifest.json").read_text())
    _as_version_2(manifest)
    manifest["format_version"] = 1
    del manifest["settings"]["pixel_scale"]
    del manifest["reference"], manifest["noise_levels"]
    for entry in manifest["layers"]:
        del entry["parallel_to_previous"]
        del entry["separability"]["variance_explained"]
        clusters = entry["clusters"]
        del clusters["k_rule"], clusters["k_reason"]
        clusters["k_scores"] = {k: scores["silhouette"] for k, scores in clusters["k_scores"].items()}
    (run / "manifest.json").write_text(json.dumps(manifest))
    loaded = ll.load(run)
    assert loaded.settings.pixel_scale == 1.0
    for old, new in zip(loaded.layers, analysis.layers):
        # ratio -> share: float64 round-off only.
        assert old.separability.variance_explained == pytest.approx(new.separability.variance_explained, rel=1e-12)
        assert old.parallel_to_previous is False
        assert old.clusters.k_scores.keys() == new.clusters.k_scores.keys()
        assert old.clusters.k_rule in ("silhouette", "fixed")


def test_k_scores_of_the_wrong_shape_are_a_format_error(run):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["layers"][0]["clusters"]["k_scores"] = {"2": 0.5}  # one number per k, not the scores by name
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFormatError, match=r"is malformed \(AttributeError"):
        ll.load(run)


def test_a_loaded_run_saves_to_the_same_bytes(run, tmp_path):
    """The overlays are drawn from the heat maps as stored, so reading and writing again changes nothing."""
    again = ll.load(run).save(tmp_path / "again")
    files = sorted(p.relative_to(run) for p in run.rglob("*") if p.is_file())
    assert any(name.parts[0] == "explanations" for name in files)
    for name in files:
        assert (run / name).read_bytes() == (again / name).read_bytes(), name


def test_loaded_segments_are_int32(run):
    lime = [e for e in ll.load(run).explanations if e.method == "lime"]
    assert lime and all(e.segments.dtype == np.int32 for e in lime)


def test_non_finite_heat_maps_are_stored_clipped(analysis, tmp_path):
    import dataclasses

    first = analysis.explanations[0]
    heat = first.heatmap.copy()
    heat[0, 0], heat[0, 1], heat[0, 2] = np.inf, -np.inf, np.nan
    broken = dataclasses.replace(analysis, explanations=(dataclasses.replace(first, heatmap=heat),))
    loaded = ll.load(broken.save(tmp_path / "run")).explanations[0].heatmap
    largest = np.abs(heat[np.isfinite(heat)]).max()
    assert np.isfinite(loaded).all()
    np.testing.assert_allclose(loaded[0, :3], [largest, -largest, 0.0], rtol=1e-3)


def test_explanation_arrays_that_do_not_fit_are_a_format_error(run):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["explanations"] = manifest["explanations"][:-1]  # one heat map more than entries
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFormatError, match="explanations do not match their arrays"):
        ll.load(run)


def test_an_unknown_explanation_method_is_refused_on_load(tmp_path, site_runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(site_runs[0], run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["explanations"][0]["method"] = "x/../../evil"
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFormatError, match=r"unknown methods \['x/../../evil'\]"):
        ll.load(run)


def test_doubt_survives_save_and_load(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    assert analysis.doubt is not None
    again = ll.load(analysis.save(tmp_path / "again"))
    for part in ("doubt", "mistake", "disagreement", "unfamiliarity"):
        np.testing.assert_array_equal(getattr(again.doubt, part), getattr(analysis.doubt, part))
    assert list(again.paths.columns[-5:]) == ["doubt", "disagreement", "unfamiliarity", "scanner", "probe"]


def test_probes_survive_save_and_load(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    probes = analysis.probes
    assert probes is not None and probes.n_images == 12
    again = ll.load(analysis.save(tmp_path / "again"))
    pd.testing.assert_frame_equal(again.paths, analysis.paths)
    assert again.paths["probe"].sum() == 12 and again.probes.name == probes.name and again.probes.files is None
    np.testing.assert_array_equal(again.probes.probabilities, probes.probabilities)
    np.testing.assert_array_equal(again.probes.thumbnails, probes.thumbnails)
    for part in ("doubt", "mistake", "disagreement", "unfamiliarity"):
        np.testing.assert_array_equal(getattr(again.probes.doubt, part), getattr(probes.doubt, part))
    for name in ("reduced", "clusters", "coords"):
        for mine, theirs in zip(getattr(again.probes, name), getattr(probes, name)):
            np.testing.assert_array_equal(mine, theirs)
    assert analysis.metrics.to_dict() == again.metrics.to_dict()


def test_a_run_whose_probe_arrays_were_cut_short_is_refused(tmp_path, site_runs):
    run = tmp_path / "run"
    shutil.copytree(site_runs[0], run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["probes"]["n_images"] = 13
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFormatError, match="13"):
        ll.load(run)


def test_metadata_survives_save_and_load(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    n = analysis.n_images
    meta = pd.DataFrame({"site": np.where(np.arange(n) % 2, "Lyon", None), "id": range(n)})
    with_meta = dataclasses.replace(analysis, metadata=check_metadata(meta, analysis.n_images, ()))
    again = ll.load(with_meta.save(tmp_path / "run"))
    pd.testing.assert_frame_equal(again.metadata, with_meta.metadata)
    assert (tmp_path / "run" / "metadata.csv").is_file()
    (tmp_path / "run" / "metadata.csv").write_text("site,id\nLyon,0\n")
    with pytest.raises(RunFormatError, match=r"metadata.csv in .* is corrupt"):
        ll.load(tmp_path / "run")

"""Big runs (format version 5): one .npy file per array, memory-mapped when loaded, checked like the others."""

from __future__ import annotations

import json

import numpy as np
import pytest

import layerlens as ll
from layerlens.exceptions import RunFormatError


@pytest.fixture(scope="module")
def analysed(sequential_model, digits):
    return ll.analyze(sequential_model, digits[1], explain=2, stability=True, progress=False)


def test_a_big_run_keeps_its_arrays_in_files_and_maps_them(analysed, tmp_path, monkeypatch):
    import layerlens.run._store as store

    monkeypatch.setattr(store, "COLUMNS_ABOVE", 100)  # 300 images count as many
    folder = analysed.save(tmp_path / "big")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 5
    assert not (folder / "arrays.npz").exists() and not (folder / "thumbnails").exists()
    assert (folder / "thumbnails.npy").is_file() and (folder / "arrays" / "layer0_features.npy").is_file()
    loaded = ll.load(folder)
    assert isinstance(loaded.layers[0].features, np.memmap) and isinstance(loaded.thumbnails, np.memmap)
    np.testing.assert_array_equal(loaded.probabilities, analysed.probabilities)
    np.testing.assert_array_equal(loaded.thumbnails, analysed.thumbnails)
    for a, b in zip(analysed.layers, loaded.layers):
        np.testing.assert_array_equal(b.features, a.features)
        np.testing.assert_array_equal(b.clusters.assignments, a.clusters.assignments)
        np.testing.assert_array_equal(b.coords, a.coords)
        for level in a.noisy_clusters:
            np.testing.assert_array_equal(b.noisy_clusters[level], a.noisy_clusters[level])
    np.testing.assert_array_equal(loaded.doubt.doubt, analysed.doubt.doubt)
    assert loaded.paths.equals(ll.load(analysed.save(tmp_path / "small")).paths)
    assert len(loaded.explanations) == len(analysed.explanations)
    # Saved again, the same bytes; a site is built from it.
    again = loaded.save(tmp_path / "again")
    for name in ("arrays/layer0_features.npy", "thumbnails.npy", "paths.csv"):
        assert (again / name).read_bytes() == (folder / name).read_bytes()
    assert (ll.build_site([folder], out=tmp_path / "site", progress=False)).is_file()


def test_a_small_run_stays_version_4(analysed, tmp_path):
    folder = analysed.save(tmp_path / "small")
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 4
    assert (folder / "arrays.npz").is_file() and (folder / "thumbnails" / "00000.png").is_file()


def test_a_damaged_column_is_named(analysed, tmp_path, monkeypatch):
    import layerlens.run._store as store

    monkeypatch.setattr(store, "COLUMNS_ABOVE", 100)
    folder = analysed.save(tmp_path / "big")
    column = folder / "arrays" / "probabilities.npy"
    data = bytearray(column.read_bytes())
    data[-1] ^= 0xFF
    column.write_bytes(bytes(data))
    with pytest.raises(RunFormatError, match="arrays/probabilities.npy in .* is corrupt"):
        ll.load(folder)
    column.unlink()
    with pytest.raises(RunFormatError, match="incomplete: cannot read arrays/probabilities.npy"):
        ll.load(folder)

"""Names and version of the run folder format, and the checks on a folder about to receive a run.

Kept apart from :mod:`layerlens.run._store` so the command line can refuse a bad ``--out`` at once,
before it imports the analysis (and scikit-learn, and TensorFlow).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._version import __version__
from layerlens.exceptions import InvalidInputError, RunFormatError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "README_TEXT",
    "SMALL_RUN_VERSION",
    "check_run_target",
    "holds_run",
    "read_manifest",
    "upgraded",
]

FORMAT = "layerlens-run"
#: The newest run format: version 5 keeps a big run's arrays in one ``.npy`` file each (memory-mapped when loaded).
FORMAT_VERSION = 5
#: The format of runs of up to 20,000 images, which every earlier layerlens reads.
SMALL_RUN_VERSION = 4
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
THUMBNAILS = "thumbnails"
PICTURES = "pictures"
REFERENCE_THUMBNAILS = "reference"
EXPLANATIONS = "explanations"
PATHS_CSV = "paths.csv"
METADATA_CSV = "metadata.csv"
README = "README.md"
#: What a run folder's README.md says of the folder (filled with the version and format by the store).
README_TEXT = """# layerlens run

Written by layerlens {version}; run format `{format}` version {format_version}.
Open it with `layerlens.load(path)`; it needs neither TensorFlow nor Keras.

- `manifest.json`: format and version, the day of the analysis, model summary (with every
  layer's type, output shape and parameters), settings, class names, per-layer cluster
  names and scores, metrics, path statistics, SHA-256 of the other files.
- `arrays.npz`: `labels` (if known) and `probabilities` (N x K); per layer i:
  `layer<i>_features` (N x D reduced activations), `layer<i>_reduced` (N x d standardised
  PCA), `layer<i>_clusters` (N), `layer<i>_kmeans_centers` (k x d), `layer<i>_coords`
  (N x 2 map), `layer<i>_map_centers` (k x 2). With a reference set (the images the
  clusters were fitted on): `reference_labels`, `reference_predictions` (R) and per layer
  `layer<i>_reference_reduced` (R x d), `layer<i>_reference_clusters` (R),
  `layer<i>_reference_coords` (R x 2). Measured under noise
  (stability): `predictions_noise<level>` and `layer<i>_clusters_noise<level>` (N), the
  noisy copies' predictions and clusters. Doubt: `doubt_doubt`, `doubt_mistake`,
  `doubt_disagreement`, `doubt_unfamiliarity` (N). Probes (images of no class shown beside
  the analysed ones): `probe_probabilities` (P x K), `probe_thumbnails` (P x h x w x C,
  uint8), `probe_doubt_<part>` (P) and per layer `layer<i>_probe_reduced` (P x d),
  `layer<i>_probe_clusters` (P), `layer<i>_probe_coords` (P x 2).
  Explanations (`explain=N`): `explained_images` (M x H x W x C, uint8, the explained
  images as displayed, in the order of the manifest's `explained_images`, mistakes first),
  `explanation_heatmaps` (E x H x W, float16: each heat map divided by its largest
  magnitude, its `heat_scale` in the manifest's `explanations`, which lists method, class,
  image and Grad-CAM layer of each) and `explanation_segments` (LIME's superpixels, one map
  per LIME explanation in order; their weights are in the manifest). `image_properties`
  (N x 3): each image's mean intensity, contrast and bright area, on the displayed scale
  (column names in the manifest's `image_properties`). A run of volumes: `explained_images`
  and `explanation_heatmaps` are volumes (their spatial axes in the order of the settings'
  `axes`, D the axial axis), and `volumes` (V x a x b x c x C, uint8, at most 128 voxels per
  axis) holds the volumes of the images with a page, in the order of the manifest's `volumes`.
- Format version 5 (runs of more than 20,000 images): `arrays/<name>.npy`, one file for each
  array named above instead of `arrays.npz`, and `thumbnails.npy` (N x h x w x C, uint8)
  instead of `thumbnails/`; `layerlens.load` maps them into memory.
- The manifest's `findings`: what the analysis found, in sentences, each with its kind,
  value, interval, threshold and what it points at (`where`).
- `thumbnails/`: one PNG per image, numbered from 00000 in the order of the analysis.
- `pictures/`: the images with a page on the site (mistakes, explained and doubtful ones) at
  their own size, up to 512 pixels on the longer side (listed in the manifest's `pictures`).
- `reference/`: thumbnails of the reference images nearest to those images (listed in the
  manifest's `reference.thumbnails`); the run keeps no other reference image.
- `explanations/`: per explained image, `<image>.png` (the image) and `<image>_<method>.png`
  (its heat map over it: red for the predicted class, blue against), at the image's picture
  size, enlarged to at least 128 pixels.
- `paths.csv`: one row per image (`image` numbers it as its thumbnail): its file (empty
  when the images did not come from files), true and predicted class, confidence, correct,
  the cluster at every layer, the path id, and `layers_agreeing`: in how many layers the
  image sat in a cluster led by the class it was finally predicted as; its doubt,
  disagreement and unfamiliarity; and `probe`: True for the probes' rows, which follow
  the images (numbered from N on).
"""


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds a layerlens run (its manifest says so; a file of that name alone proves nothing)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def check_run_target(
    path: str | Path, *, overwrite: bool, argument: str = "path", flag: str = "overwrite=True"
) -> Path:
    """Raise unless a run may be written to ``path``: missing, an empty folder, or (with ``overwrite``) a run.

    A file, or a folder holding anything but a run, is never overwritten. ``argument`` and ``flag``
    name the argument and the switch in the message (``--out`` and ``--force`` on the command line).
    """
    target = Path(path)
    if not target.exists():
        return target
    if not target.is_dir() or (any(target.iterdir()) and not holds_run(target)):
        raise InvalidInputError(
            f"{argument}: {str(target)!r} exists and is not a layerlens run folder; refusing to overwrite it."
        )
    if not overwrite and holds_run(target):
        raise InvalidInputError(
            f"{argument}: {str(target)!r} already holds a layerlens run; pass {flag} to replace it, or choose "
            "another folder."
        )
    return target


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the run in ``folder``, checked to be a run of a version this layerlens reads."""
    if not (folder / MANIFEST).is_file():
        raise RunFormatError(f"path: {str(folder)!r} is not a layerlens run folder (it has no {MANIFEST}).")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFormatError(f"path: {MANIFEST} in {str(folder)!r} is not valid JSON ({err}).") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RunFormatError(f"path: {MANIFEST} in {str(folder)!r} does not describe a {FORMAT!r}.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise RunFormatError(f"path: {MANIFEST} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise RunFormatError(
            f"path: the run in {str(folder)!r} has format version {version}, written by layerlens "
            f"{manifest.get('layerlens_version', '?')}; this layerlens {__version__} reads versions up to "
            f"{FORMAT_VERSION}. Upgrade layerlens to read it."
        )
    return manifest


def _upgrade_from_version_1(manifest: dict[str, Any]) -> None:
    """Read a version-1 manifest as version 2: what version 1 did not record takes its old implicit value."""
    _upgrade_early_version_2(manifest)
    for entry in manifest["layers"]:
        scores = entry.get("separability")
        if scores is not None and "variance_explained" not in scores:
            # Version 1 stored only the ratio r = B / W; the share B / (B + W) is r / (1 + r), 1 where r is infinite.
            ratio = decode_float(scores["variance_ratio"])
            scores["variance_explained"] = encode_float(1.0 if math.isinf(ratio) else ratio / (1.0 + ratio))


def _upgrade_early_version_2(manifest: dict[str, Any]) -> None:
    """What version 1 and the first version-2 runs (before reference sets and the faithful k) did not record."""
    manifest["settings"].setdefault("pixel_scale", 1.0)
    manifest.setdefault("reference", None)
    manifest.setdefault("noise_levels", [])
    for entry in manifest["layers"]:
        entry.setdefault("parallel_to_previous", False)
        scores = entry.get("separability")
        if scores is not None and "variance_ratio" not in scores:
            # The first version-2 runs stored only the share e = B / (B + W); the ratio B / W is e / (1 - e).
            share = decode_float(scores["variance_explained"])
            scores["variance_ratio"] = encode_float(math.inf if share >= 1.0 else share / (1.0 - share))
        clusters = entry["clusters"]
        if "k_rule" in clusters:
            continue
        # k was chosen by silhouette ("auto" then), with one silhouette kept per k tried.
        clusters["k_rule"] = "fixed" if len(clusters["k_scores"]) == 1 else "silhouette"
        clusters["k_reason"] = ""
        clusters["k_scores"] = {
            k: {"silhouette": v, "decision_alignment": None, "paths": None} for k, v in clusters["k_scores"].items()
        }


def _upgrade_from_version_2(manifest: dict[str, Any]) -> None:
    """Read a version-2 manifest as version 3: version 2 had no explanations."""
    manifest["settings"].setdefault("explain", 0)
    manifest["settings"].setdefault("explain_methods", [])
    manifest.setdefault("explained_images", [])
    manifest.setdefault("explanations", [])


def upgraded(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` of any earlier version read as the present one: what older versions did not record takes its
    old implicit value (in place; returned for convenience)."""
    version = manifest["format_version"]
    if version < 2:
        _upgrade_from_version_1(manifest)
    elif version == 2 and "noise_levels" not in manifest:  # written before version 2 was complete
        _upgrade_early_version_2(manifest)
    if version < 3:
        _upgrade_from_version_2(manifest)
    return manifest

"""What the pages show of one analysis, as plain values for the templates.

Formatting lives in the templates; this module decides which images get a page, in what order,
and gathers each page's numbers, names and pictures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from layerlens.figures.explanations import METHOD_TITLES

if TYPE_CHECKING:
    from layerlens.analysis import Analysis

__all__ = [
    "NEIGHBOURS",
    "Thumb",
    "doubtful_correct",
    "gallery_order",
    "image_data",
    "probe_order",
    "run_slug",
    "sample_order",
    "thumb",
]

# Unlabelled runs have no mistakes to list; their gallery shows the least confident predictions instead.
UNSURE_SHOWN = 100
# Correct predictions the model page lists as most in doubt.
DOUBTFUL_SHOWN = 24
NEIGHBOURS = 8


def run_slug(position: int, name: str) -> str:
    """The folder of a run inside the site: its position, then its name reduced to ``[a-z0-9-]``.

    Names come from users; only the position makes the folder unique, and no character of a name can
    lead the folder elsewhere.
    """
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return f"{position + 1:02d}-{words}" if words else f"{position + 1:02d}-run"


def image_name(index: int) -> str:
    """The file of an image's thumbnail and the page of its sample: its position in the run."""
    return f"{index:05d}"


@dataclass(frozen=True)
class Thumb:
    """One image as a thumbnail in a list: what it is, what the model said, where its page is."""

    index: int
    true: str | None
    predicted: str
    confidence: float
    correct: bool | None
    file: str | None
    has_page: bool
    doubt: float | None = None
    probe: bool = False

    @property
    def label(self) -> str:
        """``"true → predicted"``, or the prediction alone without labels (``"probe → predicted"`` for a probe)."""
        if self.probe:
            return f"probe → {self.predicted}"
        return self.predicted if self.true is None else f"{self.true} → {self.predicted}"

    @property
    def caption(self) -> str:
        """The label and the confidence, as under a thumbnail (and a probe's doubt)."""
        text = f"{self.label} {100 * self.confidence:.0f}%"
        if self.probe and self.doubt is not None:
            text += f" · doubt {100 * self.doubt:.0f}%"
        return text


def thumb(analysis: Analysis, index: int, pages: frozenset[int]) -> Thumb:
    """The thumbnail entry of image ``index`` (a probe from ``analysis.n_images`` on, as in the paths table)."""
    row = analysis.paths.iloc[index]
    probe = index >= analysis.n_images
    labelled = analysis.labels is not None and not probe
    files, position = analysis.files, index
    if probe:
        files, position = (None if analysis.probes is None else analysis.probes.files), index - analysis.n_images
    return Thumb(
        index=index,
        true=str(row["true"]) if labelled else None,
        predicted=str(row["predicted"]),
        confidence=float(row["confidence"]),
        correct=bool(row["correct"]) if labelled else None,
        file=files[position] if files is not None else None,
        has_page=index in pages,
        doubt=float(row["doubt"]) if "doubt" in analysis.paths.columns else None,
        probe=probe,
    )


def gallery_order(analysis: Analysis) -> np.ndarray:
    """The images the gallery lists: every mistake, most confident first (the ones a user trusts wrongly).

    Without labels there are no mistakes to show; the :data:`UNSURE_SHOWN` least confident predictions
    take their place, least confident first.
    """
    confidence = analysis.probabilities.max(axis=1).astype(np.float64)
    if analysis.labels is None:
        return np.argsort(confidence, kind="stable")[:UNSURE_SHOWN]
    wrong = np.flatnonzero(analysis.probabilities.argmax(axis=1) != analysis.labels)
    return wrong[np.argsort(-confidence[wrong], kind="stable")]


def doubtful_correct(analysis: Analysis, n: int = DOUBTFUL_SHOWN) -> np.ndarray:
    """The correct predictions most in doubt, most doubtful first (none without labels or doubt).

    Right for now, but unfamiliar or barely decided: the images a reviewer should not trust blindly.
    """
    if analysis.labels is None or analysis.doubt is None:
        return np.zeros(0, dtype=np.int64)
    correct = np.flatnonzero(analysis.probabilities.argmax(axis=1) == analysis.labels)
    order = correct[np.argsort(-analysis.doubt.doubt[correct], kind="stable")]
    return order[:n].astype(np.int64)


def probe_order(analysis: Analysis) -> np.ndarray:
    """The probes' rows in the paths table, most confident prediction first (trusted most, and least deserving it)."""
    if analysis.probes is None:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-analysis.probes.confidence.astype(np.float64), kind="stable")
    return (analysis.n_images + order).astype(np.int64)


def sample_order(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """The images that get a sample page: the gallery's, then the other explained and the doubtful correct ones."""
    gallery = gallery_order(analysis)
    others = set(analysis.explained_images) | set(doubtful_correct(analysis).tolist())
    return gallery, np.array(sorted(others - set(gallery.tolist())), dtype=np.int64)


def image_data(analysis: Analysis, rows: np.ndarray, pages: frozenset[int]) -> dict:
    """What the model page's script needs of every image and probe: labels, clusters, diagram rows, pages.

    Probes follow the images (``nImages`` on), with -1 as their true class.
    """
    paths = analysis.paths
    codes = paths["predicted"].cat.codes.to_numpy(np.int64)
    true = None
    if analysis.labels is not None:
        true = paths["true"].cat.codes.to_numpy(np.int64).tolist()  # -1 for the probes
    clusters = [layer.clusters.labels for layer in analysis.layers]
    if analysis.probes is not None:
        clusters = [np.concatenate([own, placed]) for own, placed in zip(clusters, analysis.probes.clusters)]
    return {
        "classes": list(analysis.class_names),
        "layers": list(analysis.layer_names),
        "clusterNames": [list(layer.clusters.names) for layer in analysis.layers],
        "nImages": analysis.n_images,
        "true": true,
        "predicted": codes.tolist(),
        "confidence": [round(float(c), 4) for c in paths["confidence"]],
        "clusters": [[int(c) for c in layer] for layer in clusters],
        "row": [int(r) for r in rows],
        "pages": sorted(pages),
    }


@dataclass(frozen=True)
class ExplanationView:
    """One explanation of a sample as the page shows it: a picture, and for LIME a weights chart."""

    title: str
    caption: str
    picture: str
    outline: str | None
    weights_json: str | None


def method_title(method: str) -> str:
    """How a method is named on the page."""
    return METHOD_TITLES.get(method, method)


# What the colours of each method's heat map mean (Grad-CAM keeps only the evidence for the class).
_CAPTIONS = {
    "lime": "superpixels that raised (red) or lowered (blue) the class's probability",
    "gradcam": "where the last convolution's maps hold evidence for the class (red)",
    "integrated_gradients": "pixels for (red) and against (blue) the class",
    "smoothgrad": "pixels for (red) and against (blue) the class, averaged over noisy copies",
}


def method_caption(method: str) -> str:
    """What the heat map of ``method`` shows, for the caption under it."""
    return f"{method_title(method)}: {_CAPTIONS.get(method, 'red for the class, blue against it')}"

"""Comparisons of numbers that two different computations produced (batch sizes, array or stream, CPUs).

float32 results of the same model differ in their last bits between batch sizes on some CPUs: oneDNN
picks its kernels by batch size and by the instruction set (AVX2 or AVX-512), so sums run in another
order. Seen here: up to 1.8e-7 in a softmax probability on an AVX2 machine. Bit-for-bit equality only
holds for the same computation repeated on the same machine; everything else is compared with these.
"""

import numpy as np
from sklearn.metrics import adjusted_rand_score

# Probabilities and reduced activations are O(1) float32 sums of a few hundred terms; their rounding
# differs by ~1e-7, so 1e-5 leaves two orders of magnitude of margin and is still far below any
# difference that could change a prediction a reader would see.
FLOAT_TOLERANCE = 1e-5


def robust_decisions(probabilities_a, probabilities_b, tolerance=FLOAT_TOLERANCE):
    """Mask of images whose predicted class cannot flip within ``tolerance``: the top two differ by more."""
    mask = np.ones(len(probabilities_a), dtype=bool)
    for p in (np.asarray(probabilities_a), np.asarray(probabilities_b)):
        top2 = np.sort(p, axis=1)[:, -2:]
        mask &= (top2[:, 1] - top2[:, 0]) > 2 * tolerance
    return mask


def assert_same_predictions(probabilities_a, probabilities_b, tolerance=FLOAT_TOLERANCE):
    """Probabilities agree within ``tolerance`` and so do the predicted classes, except true near-ties."""
    np.testing.assert_allclose(probabilities_a, probabilities_b, atol=tolerance)
    robust = robust_decisions(probabilities_a, probabilities_b, tolerance)
    np.testing.assert_array_equal(
        np.argmax(probabilities_a, axis=1)[robust], np.argmax(probabilities_b, axis=1)[robust]
    )


def assert_same_accuracy(accuracy, probabilities, reference_probabilities, labels, tolerance=FLOAT_TOLERANCE):
    """``accuracy`` equals the reference's, up to the images whose prediction is a near-tie (each may flip)."""
    reference = float(np.mean(np.argmax(reference_probabilities, axis=1) == labels))
    ties = int(np.sum(~robust_decisions(probabilities, reference_probabilities, tolerance)))
    assert abs(accuracy - reference) <= ties / len(labels) + 1e-12, (accuracy, reference, ties)


def assert_same_clustering(clusters_a, clusters_b, *, min_rand=0.98, tolerance=1e-4):
    """Two clusterings of features that differ by rounding: same scores within ``tolerance``, nearly the same groups.

    k-means is a discrete choice on continuous data: a point almost equidistant from two centres may
    land in either. The adjusted Rand index (1 for identical partitions, whatever the numbering)
    tolerates such points; ``min_rand=0.98`` allows about one in a hundred.
    """
    assert clusters_a.k_scores.keys() == clusters_b.k_scores.keys()
    for k in clusters_a.k_scores:
        for measure in ("decision_alignment", "silhouette"):
            a, b = clusters_a.k_scores[k][measure], clusters_b.k_scores[k][measure]
            np.testing.assert_allclose(a, b, atol=tolerance, err_msg=f"k={k} {measure}")  # NaN equals NaN here
    if clusters_a.k != clusters_b.k:  # only legitimate when the two choices scored the same within tolerance
        measure = "silhouette" if clusters_a.k_rule == "silhouette" else "decision_alignment"
        scores = clusters_a.k_scores
        assert abs(scores[clusters_a.k][measure] - scores[clusters_b.k][measure]) <= tolerance
        return
    assert adjusted_rand_score(clusters_a.assignments, clusters_b.assignments) >= min_rand

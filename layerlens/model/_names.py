"""Short names of layers: the shortest unique end of a nested model's ``outer/inner`` path."""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["short_layer_names"]


def short_layer_names(paths: Sequence[Sequence[str]], taken: Collection[str] = ()) -> list[str]:
    """For each layer's path (nested models' names, then its own), the shortest end no other path shares.

    Figures and tables name a nested model's layer ``"block_15_add"`` rather than
    ``"mobilenetv2_1.00_128/block_15_add"``; two layers that share their own name keep as much of their path
    as tells them apart. An end in ``taken`` (another column of a table) is never used: the name grows, up
    to the whole path. Levels are whole names: a ``/`` inside a layer's own name does not cut it.

    Examples
    --------
    >>> short_layer_names([("conv1",), ("base", "block1", "conv"), ("head", "conv"), ("base", "pool")])
    ['conv1', 'block1/conv', 'head/conv', 'pool']
    """
    paths = [tuple(path) for path in paths]
    shortened = []
    for own in paths:
        for k in range(1, len(own) + 1):
            end = own[-k:]
            clashes = sum(other[-k:] == end for other in paths if len(other) >= k)
            text = "/".join(end)
            if clashes == 1 and text not in taken:
                shortened.append(text)
                break
        else:
            shortened.append("/".join(own))
    return shortened

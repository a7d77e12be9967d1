"""The names of the explanation methods, importable without numpy (the command line checks them at once)."""

__all__ = ["METHODS"]

#: The explanation methods, by the name :func:`layerlens.explanations.explain` takes.
METHODS: tuple[str, ...] = ("lime", "gradcam", "integrated_gradients", "smoothgrad")

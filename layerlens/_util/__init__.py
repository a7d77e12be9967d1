"""Helpers every stage shares: argument checks, warnings, strict JSON floats, whole-or-nothing folders, PNG files,
the progress line, confidence intervals of a share and a quiet TensorFlow import. Private: users never import it.
"""

"""What an analysis found, said in words: each :class:`Finding` one plain sentence backed by a number.

Every kind of finding is computed from what the analysis already holds (no model runs again) and has a
stated threshold below which it is not said; a finding about a difference states its interval, and p-values
within a kind are corrected for the number of things compared (Holm). See :func:`find`.
"""

from layerlens.findings._finding import KINDS, WHERE_KEYS, Finding
from layerlens.findings._properties import IMAGE_PROPERTIES, image_properties

__all__ = ["IMAGE_PROPERTIES", "KINDS", "WHERE_KEYS", "Finding", "image_properties"]

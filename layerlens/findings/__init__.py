"""What an analysis found, said in words: each :class:`Finding` one plain sentence backed by a number.

Every kind of finding is computed from what the analysis already holds (no model runs again) and has a
stated threshold below which it is not said; a finding about a difference states its interval, and p-values
within a kind are corrected for the number of things compared (Holm). See :func:`find`.
"""

from layerlens.findings._evidence import Evidence, LayerEvidence
from layerlens.findings._find import find
from layerlens.findings._finding import KINDS, WHERE_KEYS, Finding

__all__ = ["KINDS", "WHERE_KEYS", "Evidence", "Finding", "LayerEvidence", "find"]

"""Stability: reruns over seeds and subsamples, partition/term/theme/finding stability, consensus."""

from .metrics import (
    average_jaccard,
    coassociation,
    consensus_labels,
    pairwise_partition_agreement,
    theme_member_stability,
    theme_reappearance,
)
from .runner import DEFAULT_MAX_QUOTES, LemmaLookup, StabilityResult, run_stability

__all__ = ["DEFAULT_MAX_QUOTES", "LemmaLookup", "StabilityResult", "average_jaccard", "coassociation", "consensus_labels",
           "pairwise_partition_agreement", "run_stability", "theme_member_stability",
           "theme_reappearance"]

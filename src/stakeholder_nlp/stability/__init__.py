"""Stability: reruns over seeds and subsamples, partition/term/theme/finding stability, consensus."""

from .metrics import (
    average_jaccard,
    coassociation,
    consensus_labels,
    pairwise_partition_agreement,
    theme_member_stability,
)
from .runner import LemmaLookup, StabilityResult, run_stability

__all__ = ["LemmaLookup", "StabilityResult", "average_jaccard", "coassociation", "consensus_labels",
           "pairwise_partition_agreement", "run_stability", "theme_member_stability"]

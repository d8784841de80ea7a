"""Shift between waves: prevalence with cluster-bootstrap intervals and speaker-clustered tests,
composition adjustment, and content drift within each theme."""

from .bootstrap import bootstrap_means, cluster_ids, cluster_totals, percentile_ci
from .drift import DRIFT_COLUMNS, content_drift, log_odds_dirichlet
from .prevalence import LEVEL_COLUMNS, SHIFT_COLUMNS, prevalence_levels, prevalence_shift

__all__ = ["DRIFT_COLUMNS", "LEVEL_COLUMNS", "SHIFT_COLUMNS", "bootstrap_means", "cluster_ids", "cluster_totals",
           "content_drift", "log_odds_dirichlet", "percentile_ci", "prevalence_levels", "prevalence_shift"]

"""Shift between waves: prevalence per wave and between waves (Rao-Scott design-effect score intervals for
shares, CR2 / Bell-McCaffrey t for mean differences, wild cluster bootstrap-t with Webb weights for share
trends; every interval inverts its test),
trends across three or more waves, composition adjustment, what could have been
detected (power), and content drift within each theme."""

from .bootstrap import bootstrap_means, cluster_ids, cluster_totals, percentile_ci
from .drift import DRIFT_COLUMNS, content_drift, log_odds_dirichlet
from .inference import (
    WildResult,
    canonical_clusters,
    cr2_test,
    share_diff_test,
    share_level_interval,
    wild_cluster_test,
    wild_diff,
    wild_mean,
)
from .power import detectable_share, mdd, miss_probability, power_sentence
from .prevalence import (
                         LEVEL_COLUMNS,
                         SHIFT_COLUMNS,
                         TREND_COLUMNS,
                         prevalence_levels,
                         prevalence_shift,
                         prevalence_trend,
)
from .waves import bh_qvalues, comparison_rows, primary, resolve_order

__all__ = ["DRIFT_COLUMNS", "LEVEL_COLUMNS", "SHIFT_COLUMNS", "TREND_COLUMNS", "WildResult", "bh_qvalues",
           "bootstrap_means", "canonical_clusters", "cluster_ids", "cluster_totals", "comparison_rows",
           "content_drift", "cr2_test", "detectable_share", "log_odds_dirichlet", "mdd", "miss_probability",
           "percentile_ci", "power_sentence", "prevalence_levels", "prevalence_shift", "prevalence_trend",
           "primary", "resolve_order", "share_diff_test", "share_level_interval", "wild_cluster_test", "wild_diff", "wild_mean"]

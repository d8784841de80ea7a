"""Agreement with human coding, like NVivo's coding comparison.

* :func:`codebook_agreement`: per codebook theme with ``human_codes``, Cohen's kappa, percent agreement,
  precision and recall of the machine coding against "the quote carries one of those human codes".
* :func:`partition_agreement`: ARI and NMI of topic labels against the first human code of each quote.

Columns of :func:`codebook_agreement`: ``theme_id``, ``human_codes``, ``n_human``, ``n_machine``,
``n_both``, ``kappa``, ``agreement``, ``precision``, ``recall``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .codebook import Codebook

AGREEMENT_COLUMNS = ("theme_id", "human_codes", "n_human", "n_machine", "n_both", "kappa", "agreement",
                     "precision", "recall")


def codebook_agreement(membership: pd.DataFrame, codes: Sequence[Sequence[str]], codebook: Codebook) -> pd.DataFrame:
    from sklearn.metrics import cohen_kappa_score

    rows = []
    for theme in codebook.themes:
        if not theme.human_codes or theme.id not in membership:
            continue
        human = np.array([any(c in theme.human_codes for c in qc) for qc in codes])
        machine = membership[theme.id].to_numpy(bool)
        both = int((human & machine).sum())
        kappa = cohen_kappa_score(human, machine) if human.any() or machine.any() else float("nan")
        rows.append({"theme_id": theme.id, "human_codes": list(theme.human_codes), "n_human": int(human.sum()),
                     "n_machine": int(machine.sum()), "n_both": both, "kappa": float(kappa),
                     "agreement": float((human == machine).mean()),
                     "precision": both / machine.sum() if machine.any() else float("nan"),
                     "recall": both / human.sum() if human.any() else float("nan")})
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


def partition_agreement(labels: Sequence[int], codes: Sequence[Sequence[str]]) -> dict[str, float]:
    """ARI and NMI between topic labels and the first human code (quotes without codes are left out)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    keep = [i for i, c in enumerate(codes) if len(c)]
    if len(keep) < 2:
        return {"ari": float("nan"), "nmi": float("nan"), "n": len(keep)}
    lab = [int(labels[i]) for i in keep]
    ref = [codes[i][0] for i in keep]
    return {"ari": float(adjusted_rand_score(ref, lab)), "nmi": float(normalized_mutual_info_score(ref, lab)),
            "n": len(keep)}

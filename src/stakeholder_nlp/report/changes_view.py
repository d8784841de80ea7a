"""The report's first section, "How themes changed": per theme its change sentence, then the two waves side
by side, each echo pair on one row (earlier quote, kind and similarity, later quote), the new points in the
later column and the dropped points in the earlier one. Capped where a person reads it
(:data:`HTML_PAIRS_PER_THEME` rows per theme; every pair is in ``echoes.csv``)."""

from __future__ import annotations

from itertools import zip_longest

import numpy as np

HTML_PAIRS_PER_THEME = 40
_KIND_LABEL = {"echo": "restates", "came_true": "warning came true", "unmet": "hope or need unmet",
               "met": "hope or need met"}


def _quote(i: int, texts, ids, speakers, modes, dissent) -> dict:
    s = speakers[i]
    named = isinstance(s, str) and s != ""
    return {"id": ids[i], "text": texts[i], "speaker": s if named else "unattributed", "mode": modes[i],
            "dissent": bool(dissent[i])}


def changes_view(a, texts: list[str]) -> dict | None:
    """The template's ``changes`` value (None when the analysis has no change records)."""
    ch = getattr(a, "changes", None)
    if ch is None:
        return None
    q = a.corpus.quotes
    ids, speakers, waves = q["quote_id"].tolist(), q["speaker"].tolist(), q["wave"].to_numpy()
    pos = {qid: k for k, qid in enumerate(ids)}
    modes = dict(zip(ch.quotes["quote_id"], ch.quotes["mode"], strict=True))
    dis = dict(zip(ch.quotes["quote_id"], ch.quotes["dissent"], strict=True))
    mode_list = [modes.get(x, "") for x in ids]
    dis_list = [bool(dis.get(x, False)) for x in ids]
    member = a.themes.membership
    themes = []
    rows = ch.changes[ch.changes["level"] == "theme"] if "level" in ch.changes.columns else ch.changes
    for _, r in rows.iterrows():  # the top level's records (the subthemes' are in theme_changes.csv)
        tid, wa, wb = r["theme_id"], r["wave_a"], r["wave_b"]
        col = member[tid].to_numpy(dtype=bool)
        idx_a = [i for i in np.flatnonzero(col & (waves == wa)).tolist()]
        idx_b = [i for i in np.flatnonzero(col & (waves == wb)).tolist()]
        e = ch.echoes[(ch.echoes["theme_id"] == tid) & ch.echoes["quote_id_b"].isin([ids[i] for i in idx_b])] \
            if len(ch.echoes) else ch.echoes
        pairs, echoed_a = [], set()
        for _, p in e.iterrows():
            ia, ib = pos.get(p["quote_id_a"]), pos.get(p["quote_id_b"])
            if ia is None or ib is None:
                continue
            echoed_a.add(ia)
            pairs.append({"a": _quote(ia, texts, ids, speakers, mode_list, dis_list),
                          "b": _quote(ib, texts, ids, speakers, mode_list, dis_list),
                          "kind": p["kind"], "kind_label": _KIND_LABEL.get(p["kind"], p["kind"]),
                          "similarity": f"{float(p['similarity']):.2f}"})
        pairs.sort(key=lambda p: (p["kind"] == "echo", p["b"]["id"]))  # realisations first
        in_pairs_b = {pos[p["b"]["id"]] for p in pairs}
        new = [_quote(i, texts, ids, speakers, mode_list, dis_list) for i in sorted(idx_b, key=lambda i: ids[i])
               if i not in in_pairs_b]
        dropped = [_quote(i, texts, ids, speakers, mode_list, dis_list) for i in sorted(idx_a, key=lambda i: ids[i])
                   if i not in echoed_a]
        themes.append({"theme_id": tid, "label": r["label"], "wave_a": wa, "wave_b": wb,
                       "categories": [c for c in str(r["categories"]).split(";") if c],
                       "rule": r["rule"], "sentence": r["sentence"],
                       "pairs": pairs[:HTML_PAIRS_PER_THEME], "n_pairs": len(pairs),
                       "new": new[:HTML_PAIRS_PER_THEME], "n_new": int(r["n_new"]),
                       "dropped": dropped[:HTML_PAIRS_PER_THEME], "n_dropped": int(r["n_dropped"]),
                       # the earlier points not restated beside the later new points, row by row
                       "unpaired": list(zip_longest(dropped[:HTML_PAIRS_PER_THEME], new[:HTML_PAIRS_PER_THEME]))})
    return {"themes": themes, "summary": list(ch.summary), "threshold": f"{ch.threshold:g}",
            "notice": ch.config.get("mode_notice", "")}

"""The report's theme tree: top-level themes first (largest first), each with its subthemes folded beneath
(label, id, size, phrases and a few of its most central quotes, and its change between waves where one was
found), and how many of the theme's quotes are near no subtheme and stay in the theme only. Built from
:class:`~stakeholder_nlp.themes.subthemes.SubthemeResult` and the shift table's subtheme rows.

A subtheme's ``shift`` is the finding sentence of its largest change that holds or needs care
(:func:`~.findings.classify_findings` on the subtheme rows, their q-values from the one family of both levels;
a subtheme's share is of all the wave's quotes), empty when no change was detected."""

from __future__ import annotations

#: central quotes shown per subtheme (every quote's subtheme is in quotes.csv)
HTML_QUOTES_PER_SUBTHEME = 3


def tree_view(a, texts: list[str]) -> dict | None:
    """The template's ``tree`` value (None when the analysis has no subthemes stage)."""
    sub = getattr(a, "subthemes", None)
    if sub is None:
        return None
    from ..themes.subthemes import FAR_QUANTILE, MIN_QUOTES, MIN_SPEAKERS

    q = a.corpus.quotes
    ids, speakers = q["quote_id"].tolist(), q["speaker"].tolist()
    label_of = dict(zip(a.themes.themes["theme_id"], a.themes.themes["label"], strict=True))
    splits = sub.splits.set_index("theme_id") if len(sub.splits) else None
    placement = sub.quotes["placement"].to_numpy()
    top = sub.quotes["theme_id"].to_numpy()
    shifts = subtheme_shifts(a, dict(zip(sub.subthemes["subtheme_id"], sub.subthemes["label"], strict=True)))
    themes = []
    for tid in a.themes.theme_ids():
        children = sub.subthemes[sub.subthemes["parent_id"] == tid]
        in_theme = top == tid
        kids = []
        for _, r in children.iterrows():
            quotes, seen = [], set()
            for i in list(r["representative"]):
                if len(quotes) == HTML_QUOTES_PER_SUBTHEME:
                    break
                if texts[i] in seen:  # a repeated answer is shown once
                    continue
                seen.add(texts[i])
                s = speakers[i]
                quotes.append({"id": ids[i], "text": texts[i],
                               "speaker": s if isinstance(s, str) and s != "" else "unattributed"})
            kids.append({"id": r["subtheme_id"], "label": r["label"], "n": int(r["n_quotes"]),
                         "phrases": "; ".join(r["phrases"]), "quotes": quotes,
                         "shift": shifts.get(r["subtheme_id"], "")})
        reason = ""
        if splits is not None and tid in splits.index:
            reason = str(splits.loc[tid, "reason"])
        themes.append({"id": tid, "label": label_of.get(tid, tid), "n": int(in_theme.sum()), "subthemes": kids,
                       "n_parent_only": int((in_theme & (placement == "parent")).sum()),
                       "reason": "" if reason == "split" else reason})
    themes.sort(key=lambda t: -t["n"])
    return {"themes": themes, "n_subthemes": int(len(sub.subthemes)), "n_subtheme_shifts": len(shifts),
            "unassigned": f"{100 * sub.unassigned_share():.1f}%", "min_quotes": MIN_QUOTES,
            "min_speakers": MIN_SPEAKERS, "far_pct": f"{100 * FAR_QUANTILE:g}"}


def subtheme_shifts(a, labels: dict[str, str]) -> dict[str, str]:
    """Subtheme id -> the sentence of its largest change that holds (or needs care, said so); subthemes with
    no change detected are left out. ``labels``: subtheme id -> label."""
    s = getattr(a, "shifts", None)
    if s is None or "level" not in s.columns or "share_significant" not in s.columns:
        return {}
    sub = s[s["level"] == "subtheme"]
    if not len(sub):
        return {}
    from .findings import classify_findings, finding_sentence

    ranked = classify_findings(sub.assign(label=[labels.get(t, t) for t in sub["theme_id"]]))
    out: dict[str, str] = {}
    for _, r in ranked.iterrows():
        if r["finding"] == "no change detected" or r["theme_id"] in out:
            continue
        sentence = finding_sentence(r, [r["wave_a"], r["wave_b"]])
        out[r["theme_id"]] = sentence if r["finding"] == "holds" else f"{sentence} (needs care: {r['badges']})"
    return out

"""Change records: for every theme and every compared pair of waves, how talk about the theme changed,
built from the quotes and citing them.

:func:`describe_changes` -> :class:`ChangeResult` with

``changes`` (:data:`CHANGE_COLUMNS`, written as ``theme_changes.csv``): ``theme_id, level, parent, label, wave_a,
wave_b`` (``level``: ``theme``, or ``subtheme`` with its ``parent`` theme id; '' for a theme);
``speakers_a``/``speakers_b`` (the named speakers voicing the theme, ``;``-separated), ``n_speakers_a``/
``n_speakers_b`` (their number, or of respondents where a wave has no named speaker), ``spread_a``/``spread_b``
(``none``, ``one``, ``some``, ``half or more`` of the wave's speakers: :mod:`.voices`), ``tone_a``/``tone_b``
(mean sentiment of the theme's quotes in the wave), ``categories`` (``;``-separated, :mod:`.categories`),
``rule`` (the rule behind each category, ``;``-separated in the same order), ``phrases_a``/``phrases_b``
(phrases distinctive of the wave within the theme, each with its quote ids: :mod:`.phrases`), ``n_echoes``
(later quotes restating an earlier point), ``n_new`` (later quotes with no earlier echo), ``n_dropped``
(earlier quotes no later quote restates), ``n_realised`` (echo pairs that are realisations), ``sentence``
(a sentence a researcher could paste into a results section, citing quotes as ``[quote_id speaker]``).

``echoes`` (:data:`ECHO_COLUMNS`, ``echoes.csv``): ``theme_id, quote_id_a, quote_id_b, similarity, kind``
(``echo``, ``came_true``, ``unmet``, ``met``: :mod:`.echoes`), one row per later quote that echoes.

``quotes`` (``quote_id, mode, dissent``): each quote's mode (:mod:`.mode`) and whether its tone runs against
its cell's majority (:mod:`.tone`); ``quotes.csv`` gains these two columns.

``summary``: the cross-cutting sentences (overall tone per wave, realisations, themes emerged or ceased).

Everything here **describes the speakers in the data**. Where the share or sentiment test of ``shifts.csv``
also supports a change (q < 0.05), the sentence says so; where it does not, the sentence says that too, so
no statement contradicts the shift table. Row order does not matter: quotes are visited in the order of
their ids, and ties are broken by it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..embedding.base import unit_rows
from .categories import categorise
from .echoes import ECHO_SAMPLE, ECHO_THRESHOLD, match, quote_keys, realisation_kind, sample_side
from .phrases import Phrase, central, distinctive_phrases, read_candidates
from .tone import describe_tone, dissent
from .voices import SpeakerCodes, theme_voices, transition, wave_speakers

CHANGE_COLUMNS = ("theme_id", "level", "parent", "label", "wave_a", "wave_b", "speakers_a", "speakers_b", "n_speakers_a",
                  "n_speakers_b", "spread_a", "spread_b", "tone_a", "tone_b", "categories", "rule", "phrases_a",
                  "phrases_b", "n_echoes", "n_new", "n_dropped", "n_realised", "sentence")
ECHO_COLUMNS = ("theme_id", "quote_id_a", "quote_id_b", "similarity", "kind")
QUOTE_CHANGE_COLUMNS = ("quote_id", "mode", "dissent")
_MODE_VERB = {"anticipation": "anticipates", "experience": "reports experience", "prescription": "prescribes",
              "other": "is mostly other talk"}
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
_KIND_NOUN = {"came_true": ("warning", "came true"), "unmet": ("hope or need", "reported unmet"),
              "met": ("hope or need", "reported met")}


@dataclass(frozen=True, slots=True)
class ChangeResult:
    changes: pd.DataFrame
    echoes: pd.DataFrame
    quotes: pd.DataFrame
    summary: tuple[str, ...] = ()
    threshold: float = ECHO_THRESHOLD
    config: dict = field(default_factory=dict)


def check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; expected {list(columns)}")


def _snippet(text: str, n: int = 9) -> str:
    words = " ".join(text.split()).split(" ")
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class _Cite:
    def __init__(self, quote_ids: Sequence[str], speakers: Sequence, texts: Sequence[str]) -> None:
        self.ids, self.speakers, self.texts = quote_ids, speakers, texts

    def __call__(self, i: int) -> str:
        s = self.speakers[i]
        who = "" if s is None or s == "" or (isinstance(s, float) and np.isnan(s)) else f" {s}"
        return f"[{self.ids[i]}{who}]"


def _phrase_text(phrases: list[Phrase]) -> str:
    return "; ".join(p.cite() for p in phrases)


def _mode_clause(rows: np.ndarray, modes: Sequence[str], cite: _Cite, wave) -> str:
    if len(rows) == 0 or not any(modes[i] for i in rows.tolist()):
        return ""
    counts = Counter(modes[i] for i in rows.tolist())
    top, n_top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    examples = ", ".join([cite(i) for i in rows.tolist() if modes[i] == top][:2])
    share = n_top / len(rows)
    lead = "mostly " if share < 1 else ""
    if share <= 0.5 and len(counts) > 1:
        return f"{wave} talk mixes modes ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
    verb = _MODE_VERB[top] if top in _MODE_VERB else top
    return f"{wave} talk {lead}{verb} ({n_top} of {len(rows)} quotes, e.g. {examples})"


def describe_changes(*, quote_ids: Sequence[str], texts: Sequence[str], waves: Sequence, speakers: Sequence,
                     membership: pd.DataFrame, primary: Sequence[str], labels: Mapping[str, str],
                     embeddings: np.ndarray, scores: np.ndarray, sentiment_labels: Sequence[str],
                     modes: Sequence[str], pairs: Sequence[tuple], known: Mapping[str, Mapping[str, str]] | None = None,
                     tone_levels: pd.DataFrame | None = None, shifts: pd.DataFrame | None = None,
                     threshold: float = ECHO_THRESHOLD, sentiment_validated: bool = False,
                     mode_notice: str = "", parents: Mapping[str, str] | None = None) -> ChangeResult:
    """The change records (module docstring). ``embeddings``: one row per quote (normalised here);
    ``known``: text -> phrase candidates where already read (the lemmatiser's pass; others are read here, at
    most :data:`.phrases.MAX_DOCS` quotes per theme and wave); ``tone_levels``: rows of
    ``theme_id, wave, mean`` (``result.sentiment_levels``) so tones equal the framework matrix's; ``shifts``:
    the shift table (``theme_id, wave_a, wave_b, share_significant, share_q, sentiment_significant,
    sentiment_q``) whose tests the sentences cite. ``modes``: each quote's mode ('' where not classified, with
    ``mode_notice`` saying why). ``parents``: subtheme column of ``membership`` -> its parent theme: those
    columns get records of ``level`` ``subtheme`` too (their echoes are counted in their rows; ``echoes`` and
    the summary hold the top level's)."""
    parents = dict(parents or {})
    n = len(quote_ids)
    for name, seq in (("texts", texts), ("waves", waves), ("speakers", speakers), ("primary", primary),
                      ("modes", modes), ("sentiment_labels", sentiment_labels)):
        if len(seq) != n:
            raise ValueError(f"describe_changes: {name} has {len(seq)} rows; expected one per quote ({n})")
    if len(membership) != n or len(embeddings) != n or len(scores) != n:
        raise ValueError(f"describe_changes: membership, embeddings and scores need one row per quote ({n})")
    x = unit_rows(embeddings)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(np.asarray(quote_ids, dtype=object).astype(str), kind="stable")] = np.arange(n)
    wave_arr = np.asarray(list(waves), dtype=object)
    scores = np.asarray(scores, dtype=np.float64)
    cite = _Cite(quote_ids, speakers, texts)
    dis = dissent(primary, waves, sentiment_labels)
    tones = {} if tone_levels is None else {(r.theme_id, r.wave): float(r.mean)
                                            for r in tone_levels.itertuples(index=False)}
    stats = {} if shifts is None else {(r["theme_id"], r["wave_a"], r["wave_b"]): r
                                       for _, r in shifts.iterrows()}
    rows, echo_rows = [], []
    member = membership.to_numpy(dtype=bool)
    in_wave = {w: wave_arr == w for w in dict.fromkeys(v for pair in pairs for v in pair)}
    codes = SpeakerCodes(list(speakers))
    wave_voices = {w: wave_speakers(codes, mask) for w, mask in in_wave.items()}  # the same for every theme
    keys = None  # the echo sample's hash keys, made where a theme is above ECHO_SAMPLE in a wave
    sampled: list[str] = []
    cells = {}
    for j in range(member.shape[1]):
        for w, mask in in_wave.items():
            cells[j, w] = central(np.flatnonzero(member[:, j] & mask), x, rank)
    needed = sorted({int(i) for c in cells.values() for i in c}, key=lambda i: rank[i])
    candidates = read_candidates(texts, needed, known)
    for j, tid in enumerate(membership.columns):
        col = member[:, j]
        for wa, wb in pairs:
            in_a, in_b = in_wave[wa], in_wave[wb]
            idx_a = np.flatnonzero(col & in_a)
            idx_b = np.flatnonzero(col & in_b)
            idx_a = idx_a[np.argsort(rank[idx_a], kind="stable")]
            idx_b = idx_b[np.argsort(rank[idx_b], kind="stable")]
            va = theme_voices(col, codes, in_a, wave=wave_voices[wa])
            vb = theme_voices(col, codes, in_b, wave=wave_voices[wb])
            ta = tones.get((tid, wa), float(scores[idx_a].mean()) if len(idx_a) else float("nan"))
            tb = tones.get((tid, wb), float(scores[idx_b].mean()) if len(idx_b) else float("nan"))
            ea, eb = idx_a, idx_b
            if len(idx_a) > ECHO_SAMPLE or len(idx_b) > ECHO_SAMPLE:  # a bounded search (echoes.sample_side)
                keys = quote_keys(quote_ids) if keys is None else keys
                ea, eb = sample_side(idx_a, keys, ECHO_SAMPLE), sample_side(idx_b, keys, ECHO_SAMPLE)
                sampled.append(f"{tid} ({wa}, {wb})")
            m = match(ea, eb, x, rank)
            echoed = m.sim_b >= threshold
            kinds = []
            pair_rows = []  # this theme and pair's echo pairs (the sentence's realisations)
            for k in np.flatnonzero(echoed).tolist():
                a, b = int(m.best_a[k]), int(eb[k])
                kind = realisation_kind(modes[a], modes[b], float(scores[a]), float(scores[b]))
                kinds.append(kind)
                pair_rows.append({"theme_id": tid, "quote_id_a": quote_ids[a], "quote_id_b": quote_ids[b],
                                  "similarity": round(float(m.sim_b[k]), 4), "kind": kind, "_a": a, "_b": b})
            if tid not in parents:  # a subtheme's echoes are counted in its row only
                echo_rows += pair_rows
            n_echo = int(echoed.sum())
            # dropped: an earlier quote that no echo pair names (checkable against echoes.csv)
            n_dropped = len(ea) - len(np.unique(m.best_a[echoed]))
            n_real = sum(k != "echo" for k in kinds)
            ph_a, ph_b = distinctive_phrases(cells[j, wa], cells[j, wb], candidates, quote_ids)
            cats = categorise(va.n, vb.n, va.share, vb.share, ta, tb, n_real)
            sentence = _sentence(labels.get(tid, tid), wa, wb, va, vb, idx_a, idx_b, ta, tb, modes, cite, ph_a,
                                 ph_b, pair_rows, n_echo, len(eb) - n_echo, n_dropped, dis, sentiment_labels,
                                 stats.get((tid, wa, wb)), sentiment_validated, texts)
            rows.append({"theme_id": tid, "level": "subtheme" if tid in parents else "theme",
                         "parent": parents.get(tid, ""), "label": labels.get(tid, tid), "wave_a": wa, "wave_b": wb,
                         "speakers_a": ";".join(va.speakers), "speakers_b": ";".join(vb.speakers),
                         "n_speakers_a": va.n, "n_speakers_b": vb.n, "spread_a": va.spread, "spread_b": vb.spread,
                         "tone_a": round(ta, 6) if np.isfinite(ta) else np.nan,
                         "tone_b": round(tb, 6) if np.isfinite(tb) else np.nan,
                         "categories": ";".join(c for c, _ in cats), "rule": "; ".join(r for _, r in cats),
                         "phrases_a": _phrase_text(ph_a), "phrases_b": _phrase_text(ph_b), "n_echoes": n_echo,
                         "n_new": len(eb) - n_echo, "n_dropped": n_dropped, "n_realised": n_real,
                         "sentence": sentence})
    changes = pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
    # a subtheme's echoes are counted in its row; echoes.csv lists the top level's (its quotes are the parent's)
    echoes = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in echo_rows],
                          columns=list(ECHO_COLUMNS))
    if len(echoes):
        echoes = echoes.sort_values(["theme_id", "quote_id_b"], kind="stable").reset_index(drop=True)
    quotes = pd.DataFrame({"quote_id": list(quote_ids), "mode": list(modes), "dissent": dis},
                          columns=list(QUOTE_CHANGE_COLUMNS))
    summary = _summary(changes[changes["level"] == "theme"], echoes, waves, scores, pairs, sentiment_validated)
    if sampled:
        summary.append(f"Echoes, new and dropped points in themes with more than {ECHO_SAMPLE:,} quotes in a wave "
                       f"({len(sampled)} theme and wave pairs) count a sample of {ECHO_SAMPLE:,} of the theme's "
                       "quotes per wave, chosen by a hash of the quote id.")
    return ChangeResult(changes, echoes, quotes, tuple(summary), threshold,
                        {"echo_threshold": threshold, "pairs": [[str(a), str(b)] for a, b in pairs],
                         "mode_notice": mode_notice, "echo_sample": ECHO_SAMPLE, "echo_sampled": sampled})


def _sentence(label, wa, wb, va, vb, idx_a, idx_b, ta, tb, modes, cite, ph_a, ph_b, echo_rows, n_echo, n_new,
              n_dropped, dis, sent_labels, stat, validated, texts) -> str:
    parts = [f"{label}: voiced by {va.describe()} in {wa} and {vb.describe()} in {wb}"]
    moved = transition(va, vb, wa, wb)
    if moved:
        parts[0] += f" ({moved})"
    clauses = [c for c in (_mode_clause(idx_a, modes, cite, wa), _mode_clause(idx_b, modes, cite, wb)) if c]
    if clauses:
        parts.append("; ".join(clauses))
    said = []
    for wave, phrases in ((wa, ph_a), (wb, ph_b)):
        if phrases:
            said.append(f"{wave} quotes raise " + ", ".join(
                f"'{p.text}' " + " ".join(cite(i) for i in p.positions[:2]) for p in phrases[:2]))
    if said:
        parts.append("; ".join(said))
    if len(idx_a) and len(idx_b):
        tone = f"tone from {ta:+.2f} ({describe_tone(ta)}) to {tb:+.2f} ({describe_tone(tb)})"
        if not validated:
            tone += ", sentiment not validated on this corpus"
        parts.append(tone)
        echo = (f"{_count(n_echo, 'later quote')} restate{'s' if n_echo == 1 else ''} an earlier point, "
                f"{n_new} raise{'s' if n_new == 1 else ''} new points, "
                f"{_count(n_dropped, 'earlier point')} {'is' if n_dropped == 1 else 'are'} not restated")
        parts.append(echo)
    real = [r for r in echo_rows if r["kind"] != "echo"]
    for kind in ("came_true", "unmet", "met"):
        these = [r for r in real if r["kind"] == kind]
        if not these:
            continue
        noun, verb = _KIND_NOUN[kind]
        ex = these[0]
        plural = "warnings" if noun == "warning" else "hopes or needs"
        k = len(these)
        parts.append(f"{_WORDS.get(k, str(k))} {noun if k == 1 else plural} from {wa} {verb} in {wb} "
                     f"({cite(ex['_a'])} '{_snippet(texts[ex['_a']])}' → {cite(ex['_b'])} "
                     f"'{_snippet(texts[ex['_b']])}')")
    dissenters = [i for i in list(idx_a) + list(idx_b) if dis[i]]
    if dissenters:
        parts.append("against the majority tone of their wave: " + ", ".join(
            f"{cite(i)} ({sent_labels[i]})" for i in dissenters[:3]))
    if stat is not None and (bool(stat.get("share_significant")) or bool(stat.get("sentiment_significant"))):
        tests = []
        if bool(stat.get("share_significant")):
            tests.append(f"its share changed (q = {float(stat['share_q']):.3f})")
        if bool(stat.get("sentiment_significant")):
            tests.append(f"its tone changed (q = {float(stat['sentiment_q']):.3f})")
        tail = "the statistical tests also support that " + " and ".join(tests)
    else:
        tail = "no share or tone test reaches q < 0.05 (shifts.csv), so this is not a generalisable change"
    return "; ".join(parts) + f". This describes the speakers in these data; {tail}."


def _summary(changes: pd.DataFrame, echoes: pd.DataFrame, waves: Sequence, scores: np.ndarray, pairs,
             validated: bool) -> list[str]:
    out = []
    w = np.asarray(list(waves), dtype=object)
    tones = []
    for wave in dict.fromkeys(x for pair in pairs for x in pair):
        s = scores[w == wave]
        if len(s):
            tones.append(f"{wave} {float(s.mean()):+.2f} ({describe_tone(float(s.mean()))}; "
                         f"{int((s <= -0.1).sum())} of {len(s)} quotes negative)")
    if tones:
        out.append("Overall tone by wave: " + ", ".join(tones)
                   + ("" if validated else " (sentiment not validated on this corpus)") + ".")
    for wa, wb in pairs:
        ch = changes[(changes["wave_a"] == wa) & (changes["wave_b"] == wb)]
        tids = set(ch["theme_id"])
        e = echoes[echoes["theme_id"].isin(tids)] if len(echoes) else echoes
        ant = e[e["kind"] != "echo"] if len(e) else e
        if len(ant):
            by = Counter(ant["kind"])
            out.append(f"{wa} → {wb}: {len(ant)} later reports of experience echo a {wa} anticipation ("
                       + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(by.items())) + ").")
        else:
            out.append(f"{wa} → {wb}: no later report of experience echoes a {wa} anticipation.")
        for cat in ("emerged", "ceased"):
            names = ch.loc[ch["categories"].str.split(";").map(lambda c, cat=cat: cat in c), "label"].tolist()
            if names:
                out.append(f"Themes that {cat} ({wa} → {wb}): " + "; ".join(names) + ".")
    return out

"""Sample candidate cross-wave echo pairs from the NHS Friends and Family Test comments (pxtextmining phase 1).

Trust B plays wave a and Trust C wave b (as scripts/nhs_fft_waves.py does). Candidate pairs join a Trust B
comment to a Trust C comment with the same human ``subcategory`` (the stand-in for "same theme"); each pair's
cosine similarity comes from the project's embedder (``load_embedder("fast")``, all-MiniLM-L6-v2, local). Pairs
are sampled stratified over cosine bins (equal numbers per bin, round-robin over subcategories, each comment
used in at most three pairs), with a fixed seed, and the split (``calibration`` / ``test``) is fixed by a hash of the
pair id before any label is seen.

The texts are never written into the repository: the output holds ``row_index`` ids only and goes outside it
by default (out/ is ignored by git). The committed, labelled file is benchmarks/data/echoes/nhs_pairs.csv; a
rerun with the defaults reproduces its first six columns (``--labels`` joins the committed labels in)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/make_echo_pairs.py --out out/echoes/nhs_candidates.csv
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "nhs_fft_phase1" / "text_data.csv"
LABELS = ROOT / "benchmarks" / "data" / "echoes" / "nhs_pairs.csv"
WAVE_A, WAVE_B = "Trust B", "Trust C"
BIN_EDGES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
COLUMNS = ["pair_id", "row_index_a", "row_index_b", "subcategory", "cosine", "split"]


def split_of(pair_id: str) -> str:
    """``calibration`` or ``test`` from the pair id alone (set before labelling, about half each)."""
    return "calibration" if int(hashlib.sha256(pair_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def load_comments(source: Path, min_words: int, cap: int, seed: int) -> pd.DataFrame:
    """Trust B and C comments with at least ``min_words`` words, one per normalised text within a wave,
    in subcategories that both waves use; at most ``cap`` comments per subcategory and wave (seeded)."""
    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    df = df[df["organization"].isin([WAVE_A, WAVE_B])].copy()
    df["feedback"] = df["feedback"].str.strip()
    df = df[df["feedback"].str.split().str.len() >= min_words]
    df["norm"] = df["feedback"].map(_norm)
    df = df.drop_duplicates(["organization", "norm"])
    both = set(df.loc[df.organization == WAVE_A, "subcategory"]) & set(df.loc[df.organization == WAVE_B, "subcategory"])
    df = df[df["subcategory"].isin(both)]
    keep = [g.sample(n=min(cap, len(g)), random_state=seed).index
            for _, g in df.groupby(["subcategory", "organization"])]
    df = df.loc[np.concatenate(keep)]
    return df.sort_values("row_index", key=lambda s: s.astype(int)).reset_index(drop=True)


def embed(texts: list[str]) -> np.ndarray:
    from stakeholder_nlp.embedding import load_embedder

    return load_embedder("fast").encode(texts, batch_size=64)


def candidate_pairs(df: pd.DataFrame, vectors: np.ndarray) -> pd.DataFrame:
    """Every Trust B x Trust C pair within a subcategory with cosine in [0.3, 1], minus identical texts."""
    rows = []
    for sub, g in df.groupby("subcategory"):
        ia = g.index[g.organization == WAVE_A].to_numpy()
        ib = g.index[g.organization == WAVE_B].to_numpy()
        sims = vectors[ia] @ vectors[ib].T
        for x, y in zip(*np.nonzero(sims >= BIN_EDGES[0]), strict=True):
            a, b = ia[x], ib[y]
            if df.at[a, "norm"] == df.at[b, "norm"]:
                continue
            rows.append((int(df.at[a, "row_index"]), int(df.at[b, "row_index"]), sub, float(sims[x, y])))
    out = pd.DataFrame(rows, columns=["row_index_a", "row_index_b", "subcategory", "cosine"])
    out["bin"] = np.digitize(out["cosine"], BIN_EDGES) - 1
    return out


def stratified_sample(pairs: pd.DataFrame, per_bin: int, max_uses: int, seed: int) -> pd.DataFrame:
    """``per_bin`` pairs from each cosine bin, round-robin over the bin's subcategories in a seeded order,
    each comment in at most ``max_uses`` sampled pairs."""
    rng = np.random.default_rng(seed)
    uses: dict[tuple[str, int], int] = {}
    picked = []
    for b in range(len(BIN_EDGES) - 1):
        pool = pairs[pairs["bin"] == b]
        queues = {sub: list(g.index[rng.permutation(len(g))]) for sub, g in pool.groupby("subcategory")}
        order = list(queues)
        rng.shuffle(order)
        got = 0
        while got < per_bin and any(queues.values()):
            for sub in order:
                q = queues[sub]
                while q:
                    i = q.pop()
                    ra, rb = int(pairs.at[i, "row_index_a"]), int(pairs.at[i, "row_index_b"])
                    if uses.get(("a", ra), 0) < max_uses and uses.get(("b", rb), 0) < max_uses:
                        uses[("a", ra)] = uses.get(("a", ra), 0) + 1
                        uses[("b", rb)] = uses.get(("b", rb), 0) + 1
                        picked.append(i)
                        got += 1
                        break
                if got >= per_bin:
                    break
    out = pairs.loc[picked].copy()
    out["pair_id"] = [f"nhs-{ra}-{rb}" for ra, rb in zip(out.row_index_a, out.row_index_b, strict=True)]
    out["split"] = out["pair_id"].map(split_of)
    out["cosine"] = out["cosine"].round(4)
    return out[COLUMNS].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "echoes" / "nhs_candidates.csv")
    ap.add_argument("--per-bin", type=int, default=43, help="pairs per cosine bin (7 bins from 0.3 to 1.0)")
    ap.add_argument("--cap", type=int, default=400, help="most comments per subcategory and wave")
    ap.add_argument("--min-words", type=int, default=4)
    ap.add_argument("--max-uses", type=int, default=3, help="most sampled pairs any one comment is in")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--labels", type=Path, default=None,
                    help="join the echo labels of this CSV (e.g. the committed nhs_pairs.csv) by pair_id")
    args = ap.parse_args()
    if not args.source.exists():
        raise SystemExit(f"{args.source} is missing: this script reads ../shared/data beside the checkout")
    df = load_comments(args.source, args.min_words, args.cap, args.seed)
    vectors = embed(df["feedback"].tolist())
    pairs = candidate_pairs(df, vectors)
    sample = stratified_sample(pairs, args.per_bin, args.max_uses, args.seed)
    if args.labels is not None:
        labels = pd.read_csv(args.labels, dtype={"pair_id": str})[["pair_id", "echo"]]
        sample = sample.merge(labels, on="pair_id", how="left")
        sample = sample[["pair_id", "row_index_a", "row_index_b", "subcategory", "cosine", "echo", "split"]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sample.to_csv(args.out, index=False)
    counts = pd.crosstab(pd.cut(sample.cosine, BIN_EDGES, right=False), sample.split)
    print(f"{len(df)} comments, {len(pairs)} candidate pairs with cosine >= {BIN_EDGES[0]}; "
          f"{len(sample)} sampled from {sample.subcategory.nunique()} subcategories -> {args.out}")
    print(counts.to_string())


if __name__ == "__main__":
    main()

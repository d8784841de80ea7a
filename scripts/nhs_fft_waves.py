"""Make a two-wave input from the NHS Friends and Family Test comments (pxtextmining phase 1, MIT):
the two largest trusts play the two "waves" (Trust B vs Trust C), each comment is its own respondent.

Reads /work/shared/data/nhs_fft_phase1/text_data.csv in place and writes a CSV outside the repository
(default out/nhs_fft/nhs_two_trusts.csv; out/ is ignored by git). Then, for example:

    stakeholder-nlp analyze out/nhs_fft/nhs_two_trusts.csv --out out/nhs_fft/report --text-col feedback \\
        --wave-col trust --id-col row_index --skip-bad-rows --runs 3 --force
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SOURCE = Path("/work/shared/data/nhs_fft_phase1/text_data.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--out", type=Path, default=Path("out/nhs_fft/nhs_two_trusts.csv"))
    ap.add_argument("--trusts", default="Trust B,Trust C", help="the two organisations that play the waves")
    args = ap.parse_args()
    df = pd.read_csv(args.source, dtype=str, keep_default_na=False)
    trusts = [t.strip() for t in args.trusts.split(",")]
    df = df[df["organization"].isin(trusts)]
    out = pd.DataFrame({"row_index": df["row_index"], "feedback": df["feedback"],
                        "trust": df["organization"], "question": df["question"].str.replace(r"^.* - ", "", regex=True),
                        "codes": df["label"], "subcategory": df["subcategory"], "criticality": df["criticality"]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    print(f"{len(out)} comments ({', '.join(f'{t}: {(out.trust == t).sum()}' for t in trusts)}); "
          f"{(out.feedback.str.strip() == '').sum()} empty -> {args.out}")


if __name__ == "__main__":
    main()

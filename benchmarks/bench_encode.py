"""Encoding throughput of ``nbhelpers.models.encode`` against its ceiling and sentence-transformers.

On ``--n`` SNLI validation pairs (default 2,000, a fixed random sample) with the default
backbone, all-MiniLM-L6-v2 (pre-trained; fine-tuning does not change the cost):

- ``nbhelpers.models.encode`` ([CLS], last layer), into a fresh empty cache every run, so
  each run computes (and writes) the representations;
- the ceiling: a bare ``torch.inference_mode()`` loop over the same length-sorted batches,
  tokenising each batch and running the encoder, nothing else;
- ``SentenceTransformer.encode`` on the same model folder and pairs (mean pooling and L2
  normalisation, its own length sorting), with the same batch size and max_length;
- ONNX Runtime on the CPU (``nbhelpers.explorer.export_onnx``, the model chapter 7's live explorer
  runs in the browser): the exported fp32 graph, the page's fp16 + int8-embeddings variant and
  int8 dynamic quantisation, each over the same batches, with the overlap of the 16 nearest
  neighbours (half the pairs as the datastore, half as queries) against the bare loop's;
- two choices that ``encode`` makes, measured with the bare loop (``encode`` has no switch
  for them): padding every batch to 128 tokens instead of to its longest pair, and batches
  in data order instead of sorted by length.

All methods take turns, ``--repeats`` rounds (median shown), after a warm-up on 128 pairs.

    python benchmarks/bench_encode.py             # 2,000 pairs, 3 rounds
    python benchmarks/bench_encode.py --n 200 --repeats 1   # quick
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, log, markdown_table, median_times, report  # noqa: E402

from nbhelpers import explorer, knn, models  # noqa: E402
from nbhelpers.cache import Cache  # noqa: E402
from nbhelpers.data import load_nli  # noqa: E402


def nbhelpers_encode(model, df, batch_size, max_length):
    with tempfile.TemporaryDirectory() as tmp:  # a cache miss every time
        return models.encode(model, df, batch_size=batch_size, max_length=max_length,
                             cache=Cache(tmp), progress=False)


def bare_loop(model, df, batch_size, max_length, padding="longest", sort=True):
    """[CLS] of the last layer, the least work that gives ``encode``'s result."""
    tok, encoder = model.tokenizer, model.model.base_model
    if sort:
        batches = models._length_sorted_batches(tok, df, batch_size, max_length)
    else:
        batches = [np.arange(i, min(i + batch_size, len(df))) for i in range(0, len(df), batch_size)]
    premises, hypotheses = df["premise"].tolist(), df["hypothesis"].tolist()
    out = np.empty((len(df), model.hidden_size), np.float32)
    with torch.inference_mode():
        for idx in batches:
            batch = tok([premises[i] for i in idx], [hypotheses[i] for i in idx], padding=padding,
                        truncation=True, max_length=max_length, return_tensors="pt")
            out[idx] = encoder(**batch).last_hidden_state[:, 0].numpy()
    return out


def onnx_loop(session, model, df, batch_size, max_length):
    """[CLS] of the last layer from an ONNX Runtime session, over ``bare_loop``'s batches."""
    out = np.empty((len(df), model.hidden_size), np.float32)
    for idx in models._length_sorted_batches(model.tokenizer, df, batch_size, max_length):
        batch = models._tokenize(model.tokenizer, df, max_length, idx, padding=True, return_tensors="np")
        out[idx] = session.run(["cls"], {n: batch[n].astype(np.int64) for n in explorer.INPUTS})[0]
    return out


def neighbour_overlap(reference, reps, k=16):
    """Mean share of the ``k`` nearest of the second half of the pairs among the first half that
    ``reps`` and ``reference`` find in common (the datastore built from ``reference``)."""
    half = len(reference) // 2
    store = knn.KNN(k=k).fit(reference[:half], np.zeros(half, int))
    nn_ref = store.kneighbors(reference[half:])[1]
    nn = store.kneighbors(reps[half:])[1]
    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(nn_ref, nn)]))


def st_encode(st, df, batch_size):
    return st.encode(list(zip(df["premise"], df["hypothesis"])), batch_size=batch_size,
                     show_progress_bar=False, convert_to_numpy=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="SNLI validation pairs (default 2000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds; the median is shown (default 3)")
    ap.add_argument("--batch-size", type=int, default=64, help="as encode's default (64)")
    ap.add_argument("--max-length", type=int, default=models.DEFAULT_RECIPE["max_length"],
                    help="truncation length, and the fixed padding length (default 128)")
    args = ap.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    df = load_nli("snli", "validation")
    df = df.sample(n=min(args.n, len(df)), random_state=0).reset_index(drop=True)
    model = models.load_pretrained("minilm")
    st = SentenceTransformer(models.resolve_backbone("minilm"), device="cpu")
    st.max_seq_length = args.max_length
    bs, ml = args.batch_size, args.max_length

    # the same pairs give the same vectors: ST's mean + L2 norm = normalised mean-pooled encode
    check = df.iloc[:64]
    with tempfile.TemporaryDirectory() as tmp:
        mean = models.encode(model, check, pooling="mean", max_length=ml, cache=Cache(tmp), progress=False)
    st_diff = float(np.abs(st_encode(st, check, bs) - mean / np.linalg.norm(mean, axis=1, keepdims=True)).max())
    cls_diff = float(np.abs(nbhelpers_encode(model, check, bs, ml) - bare_loop(model, check, bs, ml)).max())

    import onnxruntime

    onnx_cache = Cache(tempfile.mkdtemp(prefix="bench-onnx-"))  # exported once, outside the book's cache
    atexit.register(shutil.rmtree, onnx_cache.root, ignore_errors=True)
    sessions = {v: onnxruntime.InferenceSession(str(explorer.export_onnx(model, variant=v, cache=onnx_cache)),
                                                providers=["CPUExecutionProvider"])
                for v in ("fp32", "fp16+int8-embeddings", "int8")}
    reference = bare_loop(model, df, bs, ml)
    overlap = {f"onnxruntime {v}": neighbour_overlap(reference, onnx_loop(sess, model, df, bs, ml))
               for v, sess in sessions.items()}

    methods = {
        "nbhelpers encode": lambda d: nbhelpers_encode(model, d, bs, ml),
        "bare loop (ceiling)": lambda d: bare_loop(model, d, bs, ml),
        **{f"onnxruntime {v}": (lambda d, s=sess: onnx_loop(s, model, d, bs, ml))
           for v, sess in sessions.items()},
        "sentence-transformers": lambda d: st_encode(st, d, bs),
        "bare loop, padded to 128": lambda d: bare_loop(model, d, bs, ml, padding="max_length"),
        "bare loop, unsorted batches": lambda d: bare_loop(model, d, bs, ml, sort=False),
    }
    log(f"warm-up on 128 pairs, then {args.repeats} rounds on {len(df)} pairs")
    for fn in methods.values():
        fn(df.iloc[:128])
    res = median_times({name: (lambda fn=fn: fn(df)) for name, fn in methods.items()},
                       repeats=args.repeats, warmup=0)

    ceiling = res["bare loop (ceiling)"][0]
    what = {
        "nbhelpers encode": "[CLS], last layer; length-sorted, padded per batch; writes the cache",
        "bare loop (ceiling)": "same batches, tokenise + encoder forward only",
        "onnxruntime fp32": "ONNX Runtime CPU, the exported graph, same batches",
        "onnxruntime fp16+int8-embeddings": "ONNX Runtime CPU, the live explorer's variant",
        "onnxruntime int8": "ONNX Runtime CPU, `quantize_dynamic` int8",
        "sentence-transformers": "`SentenceTransformer.encode` (mean + L2 norm), same pairs",
        "bare loop, padded to 128": "ceiling with `padding='max_length'`",
        "bare loop, unsorted batches": "ceiling with batches in data order",
    }
    rows = [[name, what[name], fmt(med), fmt(len(df) / med), f"{ceiling / med:.0%}",
             f"{overlap[name]:.3f}" if name in overlap else ""] for name, (med, _) in res.items()]
    report("Encoding throughput: all-MiniLM-L6-v2 on SNLI pairs", "bench_encode.py", argv,
           markdown_table(["method", "what runs", "median s", "examples/s", "throughput / ceiling",
                           "16-NN overlap"], rows),
           f"\n{len(df):,} SNLI validation pairs (random sample, seed 0), batch size {bs}, "
          f"max_length {ml}, torch {torch.__version__} on {torch.get_num_threads()} threads; "
          f"median of {args.repeats} interleaved rounds after a warm-up. "
          "Padding and sorting are measured with the bare loop because `encode` always pads "
          "per batch and sorts by length. Same work checked: encode vs bare loop max |diff| "
          f"{cls_diff:.1e}; sentence-transformers vs L2-normalised mean-pooled encode max |diff| "
          f"{st_diff:.1e} (64 pairs). The 16-NN overlap: of each of the second half of the pairs, the "
          "share of its 16 nearest among the first half (normalised [CLS], the bare loop's as the "
          "datastore) that the ONNX variant's [CLS] finds too.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

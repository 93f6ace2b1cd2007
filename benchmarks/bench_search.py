"""kNN search on 384-d float32 vectors: exact methods side by side, then approximate indexes.

1. Exact search of N synthetic Gaussian training vectors (N = 10k, 100k, 1M) for 10k
   queries, k = 16 and 64: FAISS ``IndexFlatL2`` vs NumPy (chunked matmul + argpartition)
   vs ``torch.cdist`` + ``topk`` (chunked) vs scikit-learn ``NearestNeighbors(algorithm=
   "brute")``. Time is fit + search; memory is the peak RSS increase of a fresh process
   per measurement (FAISS, BLAS and torch allocations included).
2. ``nbhelpers.knn.KNN(index="ivf" | "hnsw")`` against ``index="flat"``: build time, search
   time, speed-up and recall@k (share of the exact k nearest neighbours found).

Every method is timed on at most ``--max-pairs`` (query, training vector) pairs: at large N
fewer queries are timed and the time is scaled to ``--queries`` (said in the table).

    python benchmarks/bench_search.py                          # the defaults below
    python benchmarks/bench_search.py --sizes 10000 --queries 1000 --repeats 1   # quick
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (fmt, header, log, markdown_table, median_times,  # noqa: E402
                     peak_rss_increase_mib, reset_peak_rss)

DIM = 384
CHUNK_ELEMENTS = 2**26  # distances held at once by the chunked baselines: 256 MiB of float32
EXACT = ("faiss-flat", "numpy", "torch-cdist", "sklearn-brute")
APPROX = ("flat", "ivf", "hnsw")


# ---- data ------------------------------------------------------------------------------------
def make_data(n, n_queries, kind="gaussian"):
    """``n`` training and ``n_queries`` query vectors, float32, fixed seeds.

    ``gaussian``: i.i.d. N(0, 1) in every dimension, the worst case for approximate
    indexes (no structure to exploit). ``clustered``: 1,000 Gaussian clusters (centres
    N(0, 1), spread 0.5 in every dimension), an easy case: near neighbours share a cluster.
    Real representations lie in between.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, DIM), dtype=np.float32)
    Q = np.random.default_rng(1).standard_normal((n_queries, DIM), dtype=np.float32)
    if kind == "clustered":
        centres = rng.standard_normal((1000, DIM), dtype=np.float32)
        X *= 0.5
        X += centres[rng.integers(0, 1000, n)]
        Q *= 0.5
        Q += centres[rng.integers(0, 1000, n_queries)]
    elif kind != "gaussian":
        raise ValueError(f"data={kind!r} but expected 'gaussian' or 'clustered'")
    return X, Q


# ---- exact methods: each returns (squared distances, indices), nearest first -------------------
def _chunks(n_queries, n_train):
    step = max(1, CHUNK_ELEMENTS // n_train)
    return [slice(i, min(i + step, n_queries)) for i in range(0, n_queries, step)]


def faiss_flat(X, Q, k):
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(X)
    return index.search(Q, k)


def numpy_brute(X, Q, k):
    x2 = np.einsum("ij,ij->i", X, X)
    D = np.empty((len(Q), k), np.float32)
    I = np.empty((len(Q), k), np.int64)
    for s in _chunks(len(Q), len(X)):
        d = Q[s] @ X.T
        d *= -2
        d += x2
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        dk = np.take_along_axis(d, part, axis=1)
        order = np.argsort(dk, axis=1)
        q2 = np.einsum("ij,ij->i", Q[s], Q[s])[:, None]
        D[s] = np.take_along_axis(dk, order, axis=1) + q2
        I[s] = np.take_along_axis(part, order, axis=1)
    return D, I


def torch_cdist(X, Q, k):
    import torch

    Xt, Qt = torch.from_numpy(X), torch.from_numpy(Q)
    D = torch.empty((len(Q), k))
    I = torch.empty((len(Q), k), dtype=torch.int64)
    with torch.inference_mode():
        for s in _chunks(len(Q), len(X)):
            d, i = torch.cdist(Qt[s], Xt).topk(k, dim=1, largest=False)
            D[s], I[s] = d.square(), i
    return D.numpy(), I.numpy()


def sklearn_brute(X, Q, k):
    from sklearn.neighbors import NearestNeighbors

    d, i = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors(Q)
    return np.square(d), i


METHODS = {"faiss-flat": faiss_flat, "numpy": numpy_brute, "torch-cdist": torch_cdist,
           "sklearn-brute": sklearn_brute}


# ---- one measurement per fresh process -------------------------------------------------------
def child(spec):
    """Run one measurement described by ``spec``; return a JSON-able dict."""
    X, Q = make_data(spec["n"], spec["n_queries"], spec.get("data", "gaussian"))
    if spec["method"] in METHODS:
        fn, k = METHODS[spec["method"]], spec["k"]
        fn(X[: min(len(X), 20_000)], Q[:64], k)  # warm-up: imports, thread pools, BLAS
        before = reset_peak_rss()
        (med, times), = median_times({spec["method"]: lambda: fn(X, Q, k)},
                                     repeats=spec["repeats"], warmup=0).values()
        return {"median_s": med, "times": times, "peak_mib": peak_rss_increase_mib(before)}

    from nbhelpers.knn import KNN

    kmax = max(spec["ks"])
    before = reset_peak_rss()
    t0 = time.perf_counter()
    knn = KNN(k=kmax, index=spec["method"], nprobe=spec["nprobe"],
              ef_search=spec["ef_search"]).fit(X, np.zeros(len(X), dtype=int))
    out = {"build_s": time.perf_counter() - t0, "nlist": getattr(knn, "nlist_", None)}
    knn.kneighbors(Q[:64], k=kmax)  # warm-up
    exact = spec.get("exact")
    for k in spec["ks"]:
        (med, times), = median_times({f"{spec['method']} k={k}": lambda: knn.kneighbors(Q, k=k)},
                                     repeats=spec["repeats"], warmup=0).values()
        I = knn.kneighbors(Q, k=k)[1]
        if exact is None:  # the flat index: its answer is the truth for the others
            np.save(f"{spec['truth']}-k{k}.npy", I)
            recall = 1.0
        else:
            truth = np.load(f"{spec['truth']}-k{k}.npy")
            recall = float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(I, truth)]))
        out[k] = {"median_s": med, "times": times, "recall": recall}
    out["peak_mib"] = peak_rss_increase_mib(before)
    import faiss

    out["index_mib"] = faiss.serialize_index(knn.index_).nbytes / 2**20
    return out


def measure(spec):
    """Run :func:`child` in a fresh Python process (so peak memory is its own)."""
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed with exit code {res.returncode}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---- the report ------------------------------------------------------------------------------
def queries_timed(n, args):
    return max(1, min(args.queries, int(args.max_pairs) // n))


def exact_table(args):
    rows = []
    for n in args.sizes:
        nq = queries_timed(n, args)
        scale = args.queries / nq
        for k in args.ks:
            results = {}
            for method in args.methods:
                log(f"exact: N={n:,} k={k} {method} ({nq:,} queries)")
                results[method] = measure({"method": method, "n": n, "n_queries": nq, "k": k,
                                           "repeats": args.repeats})
            base = results["faiss-flat"]["median_s"] if "faiss-flat" in results else None
            for method, r in results.items():
                s = r["median_s"] * scale
                rows.append([f"{n:,}", k, method,
                             f"{nq:,}" + ("" if nq == args.queries else f" (x{scale:g})"),
                             fmt(s), fmt(args.queries / s), fmt(r["median_s"] / base, 2) if base else "-",
                             fmt(r["peak_mib"])])
    return markdown_table(
        ["N", "k", "method", "queries timed", f"s per {args.queries:,} queries",
         "queries/s", "time / faiss-flat", "peak RSS increase (MiB)"], rows)


def approx_table(args):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for data in args.ann_data:
            for n in args.ann_sizes:
                nq = queries_timed(n, args)
                scale = args.queries / nq
                truth = str(Path(tmp) / f"{data}-{n}")
                results = {}
                for index in APPROX:
                    log(f"approximate: {data} N={n:,} index={index} ({nq:,} queries)")
                    results[index] = measure({
                        "method": index, "n": n, "n_queries": nq, "ks": args.ks, "data": data,
                        "repeats": args.repeats, "nprobe": args.nprobe, "ef_search": args.ef_search,
                        "truth": truth, "exact": None if index == "flat" else True})
                for k in args.ks:
                    base = results["flat"][str(k)]["median_s"]
                    for index, r in results.items():
                        params = {"flat": "exact", "ivf": f"nlist={r['nlist']}, nprobe={args.nprobe}",
                                  "hnsw": f"M=32, ef_search={args.ef_search}"}[index]
                        rk = r[str(k)]
                        rows.append([data, f"{n:,}", k, index, params,
                                     f"{nq:,}" + ("" if nq == args.queries else f" (x{scale:g})"),
                                     fmt(r["build_s"]), fmt(rk["median_s"] * scale),
                                     fmt(base / rk["median_s"], 2), f"{rk['recall']:.3f}",
                                     fmt(r["index_mib"]), fmt(r["peak_mib"])])
    return markdown_table(
        ["data", "N", "k", "index", "parameters", "queries timed", "build s",
         f"search s per {args.queries:,} queries", "speed-up vs flat", "recall@k",
         "index MiB", "peak RSS increase (MiB)"], rows)


def ints(text):
    return [int(float(v)) for v in text.split(",") if v]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=ints, default=[10_000, 100_000, 1_000_000],
                    help="training set sizes N for the exact methods (default 10000,100000,1000000)")
    ap.add_argument("--queries", type=int, default=10_000, help="queries per search (default 10000)")
    ap.add_argument("--ks", type=ints, default=[16, 64], help="numbers of neighbours (default 16,64)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the median is shown")
    ap.add_argument("--max-pairs", type=float, default=2.5e8,
                    help="time at most this many (query, training vector) pairs per search; "
                         "fewer queries are timed at large N and scaled up (default 2.5e8)")
    ap.add_argument("--methods", type=lambda s: s.split(","), default=list(EXACT),
                    help=f"exact methods (default {','.join(EXACT)})")
    ap.add_argument("--ann-sizes", type=ints, default=[100_000],
                    help="N for the approximate indexes (default 100000; 1000000 takes tens of "
                         "minutes to build on 2 cores; empty to skip)")
    ap.add_argument("--ann-data", type=lambda s: s.split(","), default=["gaussian", "clustered"],
                    help="synthetic data for the approximate indexes: gaussian, clustered")
    ap.add_argument("--nprobe", type=int, default=16, help="IVF cells scanned per query (default 16)")
    ap.add_argument("--ef-search", type=int, default=64, help="HNSW beam width (default 64)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    cmd = "python benchmarks/bench_search.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(header("kNN search: 384-d float32, exact and approximate", cmd.strip()))
    if args.sizes and args.methods:
        print(f"### Exact search (synthetic Gaussian vectors, {args.queries:,} queries)\n")
        print(exact_table(args))
        print("\nTime is fit + search, median of "
              f"{args.repeats}; each measurement runs in a fresh process after a small warm-up. "
              "Where fewer queries were timed (large N, at most "
              f"{args.max_pairs:.0e} query-vector pairs), the time is scaled to "
              f"{args.queries:,} queries: search cost is linear in the number of queries. "
              "Peak RSS increase counts everything the method allocates (FAISS copies the "
              "training vectors into its index; the chunked NumPy and torch baselines hold "
              f"{CHUNK_ELEMENTS * 4 // 2**20} MiB of distances at a time).\n")
    if args.ann_sizes:
        print("### Approximate indexes: `nbhelpers.knn.KNN(index=...)`\n")
        print(approx_table(args))
        print(f"\nRecall@k: share of the exact (flat) k nearest neighbours that the index "
              "returns. Build = `KNN.fit` (normalisation, IVF k-means or the HNSW graph, "
              "built on one thread for reproducibility); search = `kneighbors`, median of "
              f"{args.repeats}. `gaussian` is i.i.d. N(0, 1): no structure, the worst case for "
              "approximate search; `clustered` draws from 1,000 tight Gaussian clusters, an "
              "easy case; real representations lie in between. Index MiB: the serialised FAISS "
              "index. Peak RSS increase: `KNN.fit` + searches, dominated by the float64 "
              "normalisation of the training vectors in `fit`.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

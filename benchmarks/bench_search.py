"""kNN search on 384-d float32 vectors: exact methods side by side, then approximate indexes.

1. Exact search of N synthetic Gaussian training vectors (N = 10k, 100k, 1M) for 10k
   queries, k = 16 and 64: FAISS ``IndexFlatL2`` vs NumPy (chunked matmul + argpartition)
   vs ``torch.cdist`` + ``topk`` (chunked) vs scikit-learn ``NearestNeighbors(algorithm=
   "brute")``. Time is fit + search; memory is the peak RSS increase of a fresh process
   per measurement (FAISS, BLAS and torch allocations included).
2. ``nbhelpers.knn.KNN(index=...)`` with the approximate ``faiss.index_factory`` strings
   ``"IVF<nlist>,Flat"`` and ``"HNSW32"`` against the exact ``"Flat"``: build time, search
   time, speed-up and recall@k (share of the exact k nearest neighbours found).

Every method is timed on at most ``--max-pairs`` (query, training vector) pairs: at large N
fewer queries are timed and the time is scaled to ``--queries`` (said in the table).

    python benchmarks/bench_search.py                          # the defaults below
    python benchmarks/bench_search.py --sizes 10000 --queries 1000 --repeats 1   # quick
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (fmt, log, markdown_table, median_times, report,  # noqa: E402
                     peak_rss_increase_mib, reset_peak_rss)

DIM = 384
CHUNK_ELEMENTS = 2**26  # distances held at once by the chunked baselines: 256 MiB of float32
EXACT = ("faiss-flat", "numpy", "torch-cdist", "sklearn-brute")
APPROX = ("flat", "ivf", "hnsw")


def ivf_nlist(n):
    """IVF cells for ``n`` training points: ``round(4 sqrt(n))``, at least 39 points per cell."""
    return max(1, min(int(round(4 * np.sqrt(n))), n // 39))


def index_factory_string(method, n):
    """The ``KNN(index=...)`` string of a method in :data:`APPROX`."""
    return {"flat": "Flat", "ivf": f"IVF{ivf_nlist(n)},Flat", "hnsw": "HNSW32"}[method]


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


# ---- exact methods: fit(X) -> state; search(state, Q, k) -> (squared distances, indices) ------
def _chunks(n_queries, n_train):
    step = max(1, CHUNK_ELEMENTS // n_train)
    return [slice(i, min(i + step, n_queries)) for i in range(0, n_queries, step)]


def faiss_fit(X):
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(X)  # copies the vectors
    return index


def faiss_search(index, Q, k):
    return index.search(Q, k)


def numpy_fit(X):
    return X, np.einsum("ij,ij->i", X, X)


def numpy_search(state, Q, k):
    X, x2 = state
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


def torch_fit(X):
    import torch

    return torch.from_numpy(X)  # no copy


def torch_search(Xt, Q, k):
    import torch

    Qt = torch.from_numpy(Q)
    D = torch.empty((len(Q), k))
    I = torch.empty((len(Q), k), dtype=torch.int64)
    with torch.inference_mode():
        for s in _chunks(len(Q), len(Xt)):
            d, i = torch.cdist(Qt[s], Xt).topk(k, dim=1, largest=False)
            D[s], I[s] = d.square(), i
    return D.numpy(), I.numpy()


def sklearn_fit(X):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(algorithm="brute").fit(X)


def sklearn_search(nn, Q, k):
    d, i = nn.kneighbors(Q, n_neighbors=k)
    return np.square(d), i


METHODS = {"faiss-flat": (faiss_fit, faiss_search), "numpy": (numpy_fit, numpy_search),
           "torch-cdist": (torch_fit, torch_search), "sklearn-brute": (sklearn_fit, sklearn_search)}


def search(method, X, Q, k):
    """One exact search with ``method`` (a name in :data:`METHODS`)."""
    fit, find = METHODS[method]
    return find(fit(X), Q, k)


# ---- one measurement per fresh process -------------------------------------------------------
def child(spec):
    """Run one measurement described by ``spec``; return a JSON-able dict."""
    X, Q = make_data(spec["n"], spec["n_queries"], spec.get("data", "gaussian"))
    if spec["method"] in METHODS:
        (fit, find), k = METHODS[spec["method"]], spec["k"]
        find(fit(X[: min(len(X), 20_000)]), Q[:64], k)  # warm-up: imports, thread pools, BLAS
        before = reset_peak_rss()
        fits, searches = [], []
        for r in range(spec["repeats"]):
            t0 = time.perf_counter()
            state = fit(X)
            t1 = time.perf_counter()
            find(state, Q, k)
            searches.append(time.perf_counter() - t1)
            fits.append(t1 - t0)
            del state
            log(f"  round {r + 1}/{spec['repeats']} {spec['method']}: fit {fits[-1]:.3f} s, "
                f"search {searches[-1]:.3f} s")
        return {"fit_s": statistics.median(fits), "search_s": statistics.median(searches),
                "fits": fits, "searches": searches, "peak_mib": peak_rss_increase_mib(before)}

    from nbhelpers.knn import KNN

    kmax = max(spec["ks"])
    before = reset_peak_rss()
    t0 = time.perf_counter()
    knn = KNN(k=kmax, index=index_factory_string(spec["method"], len(X))).fit(X, np.zeros(len(X), dtype=int))
    out = {"build_s": time.perf_counter() - t0, "nlist": ivf_nlist(len(X))}
    import faiss

    params = {"ivf": f"nprobe={spec['nprobe']}", "hnsw": f"efSearch={spec['ef_search']}"}.get(spec["method"])
    if params:  # search-time parameters live on the fitted index
        faiss.ParameterSpace().set_index_parameters(knn.index_, params)
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
            total = {m: r["fit_s"] + r["search_s"] * scale for m, r in results.items()}
            base = total.get("faiss-flat")
            for method, r in results.items():
                rows.append([f"{n:,}", k, method,
                             f"{nq:,}" + ("" if nq == args.queries else f" (x{scale:g})"),
                             fmt(r["fit_s"]), fmt(r["search_s"] * scale), fmt(total[method]),
                             fmt(total[method] / base, 2) if base else "-", fmt(r["peak_mib"])])
    return markdown_table(
        ["N", "k", "method", "queries timed", "fit s", f"search s per {args.queries:,} queries",
         "total s", "total / faiss-flat", "peak RSS increase (MiB)"], rows)


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

    report("kNN search: 384-d float32, exact and approximate", "bench_search.py", argv)
    if args.sizes and args.methods:
        print(f"### Exact search (synthetic Gaussian vectors, {args.queries:,} queries)\n")
        print(exact_table(args))
        print("\nFit and search times are medians of "
              f"{args.repeats}; each measurement runs in a fresh process after a small warm-up. "
              "Where fewer queries were timed (large N, at most "
              f"{args.max_pairs:.3g} query-vector pairs), the search time is scaled to "
              f"{args.queries:,} queries (search cost is linear in the number of queries); "
              "the fit time is not scaled. Total = fit + search. "
              "Peak RSS increase counts everything the method allocates (FAISS copies the "
              "training vectors into its index; the chunked NumPy and torch baselines hold "
              f"{CHUNK_ELEMENTS * 4 // 2**20} MiB of distances at a time, and NumPy's "
              "argpartition an int64 index for each of them).\n")
    if args.ann_sizes:
        print("### Approximate indexes: `nbhelpers.knn.KNN(index=...)`\n")
        print(approx_table(args))
        print(f"\nRecall@k: share of the exact (flat) k nearest neighbours that the index "
              "returns. Build = `KNN.fit` (normalisation, IVF k-means or the HNSW graph, "
              "the graph built on one thread for reproducibility); search = `kneighbors`, median of "
              f"{args.repeats}. `gaussian` is i.i.d. N(0, 1): no structure, the worst case for "
              "approximate search; `clustered` draws from 1,000 tight Gaussian clusters, an "
              "easy case; real representations lie in between. Index MiB: the serialised FAISS "
              "index. Peak RSS increase: `KNN.fit` + searches, dominated by the float64 "
              "normalisation of the training vectors in `fit`.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

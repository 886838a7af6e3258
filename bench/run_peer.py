#!/usr/bin/python3
"""One peer system, in its own process so that its peak RSS is its own: load FILE.h5:/X into memory, then fit
KMeans REPEATS times and print one JSON object on stdout.

  run_peer.py sklearn FILE K THREADS REPEATS BUDGET MAX_ITER TOL
  run_peer.py faiss   FILE K THREADS REPEATS BUDGET NITER

Up to REPEATS fits, fewer when they would exceed BUDGET seconds (run_measure.more).

scikit-learn: float64 in memory; KMeans(algorithm="lloyd", n_init=1, init="k-means++", random_state=0).
  init_s times sklearn.cluster.kmeans_plusplus(X, K, random_state=0) alone; the fit then starts from those
  centres (the very centres KMeans draws with init="k-means++", random_state=0), so init_s + lloyd_s is one
  fit. lloyd_s includes the fit's fixed costs (validating, copying and centring X, its variance for tol),
  which at k = 8 outweigh the iterations; so per_iter_s times, once after the repeats, the Lloyd loop alone:
  _kmeans_single_lloyd, the private function KMeans.fit runs for algorithm="lloyd", for n_iter_ iterations
  from the same centres.
faiss: float32 in memory; faiss.Kmeans(d, K, niter=NITER, seed=0, max_points_per_centroid=10**9) (all points).
  iteration_stats holds cumulative times from the start of training, and the cumulative search times:
  per_iter_s is the mean of iterations 2..N, init_s the time before the first search (drawing the initial
  centroids; it also counts the first centroid update, a small O(n·d)).
The caller sets OMP_NUM_THREADS to THREADS, OPENBLAS_NUM_THREADS (THREADS for scikit-learn, 1 for faiss),
and HDF5_PLUGIN_PATH to read zstd.
"""
import json
import statistics
import sys
import time

import h5py
import numpy as np

import run_measure


def load(path, dtype):
    """/X into a new array of `dtype`, one storage chunk at a time (no full-size temporary)."""
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        ds = f["X"]
        x = np.empty(ds.shape, dtype=dtype)
        step = ds.chunks[0] if ds.chunks else 65536
        for a in range(0, ds.shape[0], step):
            x[a:a + step] = ds[a:a + step]
    return x, time.perf_counter() - t0


def repeat(fit_once, repeats, budget_s):
    """[(run dict, model)] of up to `repeats` calls of fit_once()."""
    runs, elapsed = [], 0.0
    while not runs or run_measure.more(len(runs), elapsed, runs[-1][0]["fit_s"], repeats, budget_s):
        runs.append(fit_once())
        elapsed += runs[-1][0]["fit_s"]
    return runs


def sklearn_runs(x, k, threads, repeats, budget_s, max_iter, tol):
    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.cluster._kmeans import _kmeans_single_lloyd
    from threadpoolctl import threadpool_limits

    def fit_once():
        t0 = time.perf_counter()
        init, _ = kmeans_plusplus(x, k, random_state=0)
        t1 = time.perf_counter()
        km = KMeans(n_clusters=k, algorithm="lloyd", n_init=1, init=init, random_state=0,
                    max_iter=max_iter, tol=tol).fit(x)
        t2 = time.perf_counter()
        return {"init_s": t1 - t0, "lloyd_s": t2 - t1, "fit_s": t2 - t0, "n_iter": int(km.n_iter_),
                "inertia_own": float(km.inertia_)}, (init, km)

    with threadpool_limits(limits=threads):
        runs = repeat(fit_once, repeats, budget_s)
        init, km = runs[-1][1]
        t0 = time.perf_counter()
        n_iter = _kmeans_single_lloyd(x, np.ones(len(x)), init, max_iter=km.n_iter_, tol=0.0, n_threads=threads)[3]
        per_iter = (time.perf_counter() - t0) / max(n_iter, 1)
    return [r for r, _ in runs], per_iter, km.cluster_centers_


def faiss_runs(x, k, threads, repeats, budget_s, niter):
    import faiss

    faiss.omp_set_num_threads(threads)

    def fit_once():
        km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=0, max_points_per_centroid=10**9, verbose=False)
        t0 = time.perf_counter()
        km.train(x)
        fit = time.perf_counter() - t0
        cum = [s["time"] for s in km.iteration_stats]
        init = max(cum[0] - km.iteration_stats[0]["time_search"], 0.0)
        per_iter = (cum[-1] - cum[0]) / (len(cum) - 1) if len(cum) > 1 else cum[0] - init
        return {"init_s": init, "lloyd_s": fit - init, "fit_s": fit, "n_iter": len(cum), "per_iter_s": per_iter,
                "inertia_own": float(km.obj[-1])}, km

    runs = repeat(fit_once, repeats, budget_s)
    return [r for r, _ in runs], statistics.median(r["per_iter_s"] for r, _ in runs), runs[-1][1].centroids


def main(argv):
    system, path, k, threads, repeats, budget_s = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4]), \
        float(argv[5])
    if system == "sklearn":
        x, load_s = load(path, np.float64)
        runs, per_iter, centers = sklearn_runs(x, k, threads, repeats, budget_s, int(argv[6]), float(argv[7]))
    elif system == "faiss":
        x, load_s = load(path, np.float32)
        runs, per_iter, centers = faiss_runs(x, k, threads, repeats, budget_s, int(argv[6]))
    else:
        sys.exit(f"run_peer.py: unknown system {system}")
    json.dump({"load_s": load_s, "runs": runs, "per_iter_s": per_iter,
               "centers": np.asarray(centers, dtype=np.float64).tolist()}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])

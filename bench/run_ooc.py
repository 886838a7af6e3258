"""ooc's runs: `kmeans-ooc fit --json` repeated, its own phase times read from the JSON, wall time and peak RSS
measured from outside, medians taken.

Modes: cached (the default memory limit: the data is read and decoded once, by the first pass, and the
other passes are served from memory) and stream (--memory-limit 256M: every pass reads and decodes the file).
"""
import json
import os

import run_measure

STREAM_LIMIT = "256M"


def fit_argv(build, w, data, labels, mode, threads):
    argv = [os.path.join(build, "kmeans-ooc"), "fit", data, "-k", w.k, "--json", "-q", "-t", threads,
            "--labels", labels, "-f"]
    if mode == "stream":
        argv += ["--memory-limit", STREAM_LIMIT]
    if w.max_iter is not None:
        argv += ["--max-iter", w.max_iter, "--tol", 0]
    if w.init:
        argv += ["--init", w.init]
    return argv


def one_run(res):
    """The numbers of one run. fit_s is the wall time of the whole command: read, initialise, iterate, write
    the labels (ooc fits from the file; the peers' fit times exclude their loading)."""
    j = json.loads(res["stdout"])
    s = j["seconds"]
    return {"read_s": s["stats"], "init_s": s["init"], "lloyd_s": s["lloyd"], "labels_s": s["labels"],
            "total_s": s["total"], "fit_s": res["wall_s"], "per_iter_s": s["lloyd"] / max(j["n_iter"], 1),
            "n_iter": j["n_iter"], "passes": j["passes"], "inertia_own": j["inertia"],
            "rss_bytes": res["rss_bytes"], "peak_rss_bytes_own": j["peak_rss_bytes"]}, j


def measure(build, w, data, labels, mode, threads, repeats, budget_s):
    """Medians over up to `repeats` runs (run_measure.more), plus the last run's centres and per-iteration
    history. On a failed run: {"error": one line}, and no further repeats."""
    runs, last, elapsed = [], None, 0.0
    while not runs or run_measure.more(len(runs), elapsed, runs[-1]["fit_s"], repeats, budget_s):
        res = run_measure.run(fit_argv(build, w, data, labels, mode, threads))
        if res["rc"] != 0:
            return {"error": f"kmeans-ooc fit ({mode}, -t {threads}) exit {res['rc']}: "
                             f"{run_measure.last_line(res['stderr'])}"}
        r, last = one_run(res)
        runs.append(r)
        elapsed += res["wall_s"]
    out = {key: run_measure.median([r[key] for r in runs]) for key in runs[0]}
    out.update(runs=runs, repeats=len(runs), threads=threads, labels_file=labels,
               centers=last["cluster_centers"], history=last["history"], converged=last["converged"])
    return out

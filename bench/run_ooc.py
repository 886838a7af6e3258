"""ooc's runs: `kmeans-ooc fit --json` repeated, its own phase times read from the JSON, wall time and peak RSS
measured from outside, medians taken.

Modes: cached (the default memory limit: the data is read and decoded once, by the first pass, and the
other passes are served from memory) and stream (--memory-limit 256M: every pass reads and decodes the file).
Each streaming run follows a read-and-decompress floor of its own (run_floors.read_decompress()): its
iteration's ratio to that floor is `iter_vs_floor`, and the result's is the median of the runs' ratios.
An iteration may leave chunks unread (every row of them kept its label by its bounds: history's
chunks_unread), so the mean iteration is also split: `read_iter_s`, the median of the iterations that read
every chunk, and `iters_unread`, how many iterations left some unread.
A job's init is the --init it passes (None: ooc's default, k-means||).
"""
import json
import os

import run_floors
import run_measure

STREAM_LIMIT = "256M"


def fit_argv(build, w, data, labels, mode, threads, init):
    argv = [os.path.join(build, "kmeans-ooc"), "fit", data, "-k", w.k, "--json", "-q", "-t", threads,
            "--labels", labels, "-f"]
    if mode == "stream":
        argv += ["--memory-limit", STREAM_LIMIT]
    if w.max_iter is not None:
        argv += ["--max-iter", w.max_iter, "--tol", 0]
    if init:
        argv += ["--init", init]
    return argv


def one_run(res):
    """The numbers of one run. fit_s is the wall time of the whole command: read, initialise, iterate, write
    the labels (ooc fits from the file; the peers' fit times exclude their loading)."""
    j = json.loads(res["stdout"])
    s = j["seconds"]
    read_all = [h["seconds"] for h in j["history"] if h["chunks_unread"] == 0]
    return {"read_s": s["stats"], "init_s": s["init"], "lloyd_s": s["lloyd"], "labels_s": s["labels"],
            "total_s": s["total"], "fit_s": res["wall_s"], "per_iter_s": s["lloyd"] / max(j["n_iter"], 1),
            "read_iter_s": run_measure.median(read_all) if read_all else None,
            "iters_unread": sum(h["chunks_unread"] > 0 for h in j["history"]),
            "n_iter": j["n_iter"], "passes": j["passes"], "inertia_own": j["inertia"],
            "rss_bytes": res["rss_bytes"], "peak_rss_bytes_own": j["peak_rss_bytes"]}, j


def measure(build, w, data, jobs, repeats, budget_s):
    """{name: result} for jobs [(name, labels, mode, threads, init)], their runs taken in turn (one of each, then
    the next round), so that a drift of the machine over the minutes (this VM's: 5-10%, and its host backing
    fresh memory slowly at times) falls on all of them alike. A result: medians over up to `repeats` runs
    (run_measure.more), plus the last run's centres and per-iteration history; on a failed run {"error": one
    line}, and no further repeats of that job."""
    runs = {name: [] for name, *_ in jobs}
    last, elapsed, failed = {}, {name: 0.0 for name, *_ in jobs}, {}
    while True:
        todo = [j for j in jobs if j[0] not in failed and
                (not runs[j[0]] or run_measure.more(len(runs[j[0]]), elapsed[j[0]], runs[j[0]][-1]["fit_s"],
                                                    repeats, budget_s))]
        if not todo:
            break
        for name, labels, mode, threads, init in todo:
            floor = run_floors.read_decompress(build, data, threads) if mode == "stream" else None
            res = run_measure.run(fit_argv(build, w, data, labels, mode, threads, init))
            if res["rc"] != 0:
                failed[name] = {"error": f"kmeans-ooc fit ({mode}, -t {threads}) exit {res['rc']}: "
                                         f"{run_measure.last_line(res['stderr'])}"}
                continue
            r, last[name] = one_run(res)
            if mode == "stream":
                r["floor_s"] = floor
                r["iter_vs_floor"] = r["per_iter_s"] / floor if floor else None
                r["read_iter_vs_floor"] = r["read_iter_s"] / floor if floor and r["read_iter_s"] else None
            runs[name].append(r)
            elapsed[name] += res["wall_s"]
    out = dict(failed)
    for name, labels, mode, threads, _ in jobs:
        if name in failed:
            continue
        o = {key: run_measure.median([r[key] for r in runs[name]]) for key in runs[name][0]}
        o.update(runs=runs[name], repeats=len(runs[name]), threads=threads, labels_file=labels,
                 centers=last[name]["cluster_centers"], history=last[name]["history"],
                 converged=last[name]["converged"])
        out[name] = o
    return out

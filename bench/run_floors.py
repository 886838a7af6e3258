"""The floors a Lloyd iteration is compared with, measured on this machine in the same run:

  read_decompress_s  read every stored chunk of the workload's file (pread at its offset, the file in the page
                cache) and decode it (shuffle + zstd), T threads: issue 5's read-and-decompress pass, the least a
                streaming iteration can cost (bench_pass --floors-only);
  decompress_s  the decoding alone, of stored chunks already in memory (shown beside it);
  membw_s       sum the decoded array in memory, T threads: the least a cached iteration can cost (idem);
  first_touch_s write that array's memory for the first time, T threads, once: what the first pass of a cached
                fit pays on top of decoding to fill its cache (idem; on this VM it swings tenfold from minute
                to minute, with the host's backing of fresh memory);
  gemm_s        the distance products of one iteration, 2·rows·d·k flops, at the GEMM rate OpenBLAS reaches
                at that shape (bench_gemm; dgemm for float64 data, sgemm for float32).

A floor that cannot be measured is None, with a note saying why.
"""
import json
import os
import tempfile

import run_measure


def _tool(build, name):
    path = os.path.join(build, "bench", name)
    return path if os.access(path, os.X_OK) else None


PASS_FLOORS = ("read_decompress", "decompress", "membw", "first_touch")


def _pass_floors(doc, threads):
    """{name + "_s": seconds} for PASS_FLOORS, from bench_pass's JSON: {"runs": [{"threads", "what",
    "seconds"}, ...]}."""
    runs = {r["what"]: r["seconds"] for r in doc["runs"] if r["threads"] == threads}
    return {f"{name}_s": runs.get(name) for name in PASS_FLOORS}


def pass_floors(build, data, threads, repeats):
    """{"read_decompress_s", "decompress_s", "membw_s", "first_touch_s", "note"} for the file `data`."""
    none = {f"{name}_s": None for name in PASS_FLOORS}
    tool = _tool(build, "bench_pass")
    if not tool:
        return none | {"note": "bench_pass not built"}
    usage = run_measure.run([tool, "--help"])
    if "--floors-only" not in usage["stdout"] + usage["stderr"]:
        return none | {"note": "bench_pass has no --floors-only yet"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "floors.json")
        res = run_measure.run([tool, "--input", data, "--floors-only", "-t", threads, "-r", repeats, "--json", out])
        if res["rc"] != 0:
            return none | {"note": run_measure.last_line(res["stderr"])}
        with open(out) as f:
            return _pass_floors(json.load(f), threads) | {"note": None}


def read_decompress(build, data, threads):
    """Seconds of one read-and-decompress pass over `data` (the faster of pread and a map, as above), or None:
    taken beside each streaming run of ooc, so that the run and its floor see the machine in the same state
    (this VM's speed drifts by 10-20% over minutes)."""
    tool = _tool(build, "bench_pass")
    if not tool:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "floor.json")
        res = run_measure.run([tool, "--input", data, "--read-decompress-only", "-t", threads, "-r", 1, "--json", out])
        if res["rc"] != 0:
            return None
        with open(out) as f:
            return _pass_floors(json.load(f), threads)["read_decompress_s"]


def gemm_rate(build, w, threads, cache):
    """{"gflops", "note"}: the GEMM rate at the workload's (d, k) and dtype; `cache` (a dict) keeps one
    measurement per shape for the whole run."""
    key = (w.features, w.k, w.dtype)
    if key in cache:
        return cache[key]
    tool = _tool(build, "bench_gemm")
    if not tool:
        cache[key] = {"gflops": None, "note": "bench_gemm not built"}
        return cache[key]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "gemm.json")
        run_measure.check(run_measure.run([tool, "-d", w.features, "-k", w.k, "-t", threads, "--json", out]),
                          "bench_gemm")
        with open(out) as f:
            doc = json.load(f)
    cache[key] = {"gflops": doc["dgemm_gflops" if w.dtype == "float64" else "sgemm_gflops"], "note": None}
    return cache[key]


def measure(build, w, data, threads, repeats, gemm_cache):
    floors = pass_floors(build, data, threads, repeats)
    g = gemm_rate(build, w, threads, gemm_cache)
    floors["gemm_gflops"] = g["gflops"]
    floors["gemm_s"] = 2.0 * w.rows * w.features * w.k / (g["gflops"] * 1e9) if g["gflops"] else None
    notes = [n for n in (floors.pop("note"), g["note"]) if n]
    floors["note"] = "; ".join(notes) or None
    return floors

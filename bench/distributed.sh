#!/usr/bin/env bash
# distributed.sh [BUILD_DIR] [WORK_DIR] [PROCESSES]: kmeans-ooc fit on one process of all cores against
# `mpirun -np PROCESSES` processes sharing the cores, in turn (3 pairs), on 10M x 20 float64 blobs (k = 12),
# cached (default memory limit) and streaming (256M a process); medians of total and per-iteration times,
# and whether centres, inertia and n_iter are bitwise the same.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}
work=${2:-${TMPDIR:-/tmp}/ooc-distributed}
procs=${3:-2}
cores=$(nproc)
threads=$(( cores / procs > 0 ? cores / procs : 1 ))
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins}
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"
data=$work/blobs-10M-d20-k12.h5
[ -f "$data" ] || "$bin/chunkgen" -q -n 10M -d 20 -c 12 --chunk-rows 200000 --seed 0 "$data"

for limit in "" "--memory-limit 256M"; do
  for pair in 1 2 3; do
    # shellcheck disable=SC2086 # $limit is two words or none
    "$bin/kmeans-ooc" fit "$data" -k 12 --json -q -t "$cores" $limit > "$work/one-$pair.json"
    # shellcheck disable=SC2086
    mpirun -q -np "$procs" --bind-to none "$bin/kmeans-ooc" fit "$data" -k 12 --json -q -t "$threads" $limit \
      > "$work/mpi-$pair.json"
  done
  /usr/bin/python3 - "$work" "${limit:-default limit}" "$cores" "$procs" "$threads" <<'PY'
import json, statistics, sys
work, limit, cores, procs, threads = sys.argv[1:]
def load(kind):
    return [json.load(open(f"{work}/{kind}-{i}.json")) for i in (1, 2, 3)]
one, mpi = load("one"), load("mpi")
same = all(m[k] == o[k] for o, m in zip(one, mpi) for k in ("cluster_centers", "inertia", "n_iter"))
for name, runs in ((f"1 process x {cores} threads", one), (f"{procs} processes x {threads} threads", mpi)):
    total = statistics.median(r["seconds"]["total"] for r in runs)
    it = statistics.median(r["seconds"]["lloyd"] / r["n_iter"] for r in runs)
    rss = statistics.median(r["peak_rss_bytes"] for r in runs) / 2**20
    print(f"{limit:>20}  {name:<26} total {total:6.2f} s  lloyd/iter {it:6.3f} s  process 0 peak RSS {rss:6.0f} MiB")
print(f"{'':>20}  same centres, inertia and n_iter: {same}")
PY
done

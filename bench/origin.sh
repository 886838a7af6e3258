#!/usr/bin/env bash
# origin.sh [BUILD_DIR] [WORK_DIR]: the origin notebook's workload, end to end, out of core.
#   dask:  500 blocks x 200,000 rows x 20 features of blobs; KMeans(init_max_iter=3, oversampling_factor=10)
#          .fit(X); clf.labels_[:10].compute()
#   ooc:   chunkgen the same shape to a zstd HDF5 file; kmeans-ooc fit -k 8 --init-max-iter 3 with l = 10
#          candidates a round (dask-ml's oversampling_factor is l itself; ours is l / k = 1.25) under
#          --memory-limit 2G, labels written; then the first 10 labels.
# Prints per-phase times, passes, peak RSS and inertia, and writes WORK_DIR/origin.json.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}
work=${2:-${TMPDIR:-/tmp}/ooc-origin}
mkdir -p "$work"
data=$work/origin.h5

if [ ! -f "$data" ]; then
  /usr/bin/time -f "chunkgen: %e s wall, peak RSS %M KB" \
    "$bin/chunkgen" -n 100M -d 20 -c 12 --chunk-rows 200000 --seed 0 "$data"
fi
/usr/bin/time -f "kmeans-ooc fit: %e s wall, peak RSS %M KB" -o "$work/fit.time" \
  "$bin/kmeans-ooc" fit "$data" -k 8 --init-max-iter 3 --oversampling-factor 1.25 --memory-limit 2G \
  --labels "$work/labels.h5" -o "$work/model.h5" --json -f -v > "$work/origin.json"
cat "$work/fit.time"
/usr/bin/python3 - "$work/origin.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["seconds"]
print(f"rows {r['n_samples']:,}  k {r['n_clusters']}  inertia {r['inertia']:.6e}  n_iter {r['n_iter']}  "
      f"converged {r['converged']}  passes {r['passes']}  bytes read {r['bytes_read'] / 1e9:.1f} GB")
print(f"seconds: stats {s['stats']:.1f}  init {s['init']:.1f}  lloyd {s['lloyd']:.1f}  labels {s['labels']:.1f}  "
      f"total {s['total']:.1f}   peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB")
PY
echo "first 10 labels:"
"$bin/kmeans-ooc" labels "$work/labels.h5" --rows 0:10 | tr '\n' ' '
echo

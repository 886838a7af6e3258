#!/usr/bin/env bash
# demo.sh: install, build, and run the main job on an embedded default, the origin notebook's workflow at
# a size that takes seconds: generate a blob dataset (20 features, 12 blobs, 200,000-row chunks, 2M rows),
# cluster it with k-means|| and Lloyd (k = 8, 3 init rounds, as the notebook), write the labels chunk by
# chunk, and read the first 10 back (the notebook's clf.labels_[:10].compute()).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
ooc_install_packages
ooc_build build/release

bin=build/release
dir=${OOC_DEMO_DIR:-demo}
mkdir -p "$dir"
"$bin/chunkgen" --samples 2M --features 20 --centers 12 --chunk-rows 200000 --seed 0 --force "$dir/blobs.h5"
"$bin/chunkinfo" "$dir/blobs.h5"
echo
"$bin/kmeans-ooc" fit "$dir/blobs.h5" -k 8 --init-max-iter 3 -v --force \
  --model "$dir/model.h5" --labels "$dir/labels.h5"
echo
echo "first 10 labels (kmeans-ooc labels $dir/labels.h5 --rows 0:10):"
"$bin/kmeans-ooc" labels "$dir/labels.h5" --rows 0:10 | tr '\n' ' '
echo

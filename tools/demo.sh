#!/usr/bin/env bash
# demo.sh: install, build, and run the main job on an embedded default: generate a blob dataset (the
# origin notebook's shape, 20 features and 12 centres, at 2M rows) and describe it.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
ooc_install_packages
ooc_build build/release

bin=build/release
data=${OOC_DEMO_DATA:-demo.h5}
export HDF5_PLUGIN_PATH=$PWD/$bin/plugins
"$bin/chunkgen" --samples 2M --features 20 --centers 12 --chunk-rows 200000 --seed 0 --force "$data"
echo
h5ls -v "$data/X" | sed -n '1,/Storage/p;/Filter-0/,$p'
echo
echo "first rows of /X and their blobs /y:"
h5dump -d /X -s 0,0 -c 5,6 "$data" | sed -n '/DATA {/,/}/p'
h5dump -d /y -s 0 -c 5 "$data" | sed -n '/DATA {/,/}/p'

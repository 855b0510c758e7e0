#!/usr/bin/env bash
# One device call: the GPU tests, then predict end to end (warmed models) for the checkout before the
# restructuring (.ab/pre, carried) and this one, in the same lease. Writes under $OUT.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
for tree in . .ab/pre; do (cd $tree && python3 setup.py -q build_ext --inplace >/dev/null 2>&1 || echo "no C build in $tree"); done
PYTHONPATH=/tmp/site:$PWD/src timeout 270 python3 -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 | tail -25 | tee $OUT/gpu_tests.txt
READS=${READS:-30000}
for label in pre HEAD; do
  tree=$([ $label = pre ] && echo .ab/pre || echo .)
  PYTHONPATH=/tmp/site:$tree/src timeout 150 python3 bench/bench_e2e_ab.py --reads $READS --label $label --out $OUT/e2e_$label.json 2>&1 | grep -v -i warn | tail -2
done

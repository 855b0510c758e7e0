#!/usr/bin/env bash
# Second device call: the GPU tests that failed at 2808459 (with their errors), then the e2e A/B again.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
for tree in . .ab/pre; do (cd $tree && python3 setup.py -q build_ext --inplace >/dev/null 2>&1 || echo "no C build in $tree"); done
PYTHONPATH=/tmp/site:$PWD/src timeout 200 python3 -m pytest -m gpu -q -p no:cacheprovider -p no:logging --tb=short tests 2>&1 | grep -v "DEBUG\|^  warn\|Deprecat" | tail -40 | tee $OUT/gpu_tests.txt
for label in pre HEAD pre2 HEAD2; do
  tree=$(case $label in pre*) echo .ab/pre;; *) echo .;; esac)
  PYTHONPATH=/tmp/site:$tree/src timeout 110 python3 bench/bench_e2e_ab.py --reads 30000 --label $label --out $OUT/e2e_$label.json 2>&1 | grep -v -i warn | tail -2
done

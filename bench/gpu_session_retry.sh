#!/usr/bin/env bash
# Second device call: the GPU tests (errors shown), the e2e A/B before/after the restructuring, the benchmark.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
for tree in . .ab/pre; do (cd $tree && python3 setup.py -q build_ext --inplace >/dev/null 2>&1 || echo "no C build in $tree"); done
PYTHONPATH=/tmp/site:$PWD/src timeout 120 python3 -m pytest -m gpu -q -p no:cacheprovider -p no:logging --tb=short tests 2>&1 | grep -v "DEBUG\|^  warn\|Deprecat" | tail -30 | tee $OUT/gpu_tests.txt
for label in pre HEAD; do
  tree=$([ $label = pre ] && echo .ab/pre || echo .)
  PYTHONPATH=/tmp/site:$tree/src timeout 100 python3 bench/bench_e2e_ab.py --reads 30000 --label $label --out $OUT/e2e_$label.json 2>&1 | grep -v -i warn | tail -1
done
PYTHONPATH=/tmp/site:$PWD/src timeout 300 python3 -m virnucpro benchmark --encoder-frames 12000 --baseline-frames 3000 --e2e-reads 60000 --out $OUT/benchmark_h200.json 2>&1 | grep -v -i "warn\|DEBUG" | tail -22

#!/usr/bin/env bash
# Issue 27, one device call: the GPU tests, then the benchmark (ledger line with the tests' summary).
# Usage (device): bash bench/gpu_session_27.sh [benchmark args...]
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
export VIRNUCPRO_COMMIT=${VIRNUCPRO_COMMIT:-$(cat .commit 2>/dev/null || echo unknown)}
python3 setup.py -q build_ext --inplace >/dev/null 2>&1 || echo "no C build"
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv,noheader
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  timeout 240 python3 -m pytest -m gpu -q -p no:cacheprovider --tb=line tests 2>&1 | grep -v "DEBUG\|^  warn\|Deprecat" | tail -25 > $OUT/gpu_tests.txt
  cat $OUT/gpu_tests.txt
fi
timeout ${BENCH_TIMEOUT:-420} python3 -m virnucpro benchmark --out $OUT/benchmark_h200.json --ledger $OUT/ledger.jsonl \
  --gpu-tests $OUT/gpu_tests.txt "$@" 2>&1 | grep -v -i "warn\|DEBUG" | tail -30

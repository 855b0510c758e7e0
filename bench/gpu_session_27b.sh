#!/usr/bin/env bash
# Issue 27, second device call: the GPU tests, then the start-up anatomy (cold/warm, --compile auto and on).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
python3 setup.py -q build_ext --inplace >/dev/null 2>&1 || echo "no C build"
timeout 200 python3 -m pytest -m gpu -q -p no:cacheprovider --tb=short tests 2>&1 | grep -v "DEBUG\|^  warn\|Deprecat" > $OUT/gpu_tests.txt
grep -E "passed|failed|Error|error|FAILED" $OUT/gpu_tests.txt | tail -25
timeout ${STARTUP_TIMEOUT:-330} python3 bench/bench_startup.py --out $OUT "$@" 2>&1 | grep -v -i "warn\|DEBUG" | tail -30

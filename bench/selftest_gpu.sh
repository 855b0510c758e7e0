#!/usr/bin/env bash
# `virnucpro selftest` on a GPU node as a new admin runs it: from an empty directory, with an empty $HOME,
# offline; then checks that nothing was left behind. Run from the checkout with virnucpro installed:
#     bash bench/selftest_gpu.sh            # every GPU (--device auto)
#     bash bench/selftest_gpu.sh cuda:0     # one GPU
# (PYTHON=path/to/python picks the interpreter; default: python)
set -u
device="${1:-auto}"
scratch="$(mktemp -d)"
mkdir -p "$scratch/home" "$scratch/cwd"
( cd "$scratch/cwd" && HOME="$scratch/home" HF_HUB_OFFLINE=1 "${PYTHON:-python}" -m virnucpro selftest --device "$device" )
rc=$?
left="$(find "$scratch/home" "$scratch/cwd" -mindepth 1 | head -20)"
echo "exit code: $rc"
if [ -n "$left" ]; then echo "LEFT BEHIND:"; echo "$left"; else echo "nothing left in \$HOME or the working directory"; fi
rm -rf "$scratch"
exit "$rc"

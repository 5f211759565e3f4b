#!/bin/bash
# On a lent GPU machine that has no TVM (this workplace's device tool): unpack TVM and the wheels
# msgym needs into /tmp/site, run the CUDA tests, then the GPU bench; results under $OUT.
#
# Prepare here (the TVM package without 3rdparty/, src/, web/ is ~62 MB as xz; a call carries 64 MiB):
#   (cd .venv/lib/python3.11/site-packages && tar --exclude=tvm/3rdparty --exclude=tvm/src \
#       --exclude=tvm/web --exclude=__pycache__ -cf - tvm | xz -9e -T2) > /tmp/tvm.tar.xz
#   mkdir -p .gpu && split -b 32M /tmp/tvm.tar.xz .gpu/tvm.part.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       -d .whl apache-tvm-ffi==0.1.14.post1 xgboost-cpu gymnasium farama-notifications \
#       stable-baselines3 sb3-contrib          (.gpu/ and .whl/ listed in .git/info/exclude)
# Call 1 carries .gpu/tvm.part.aa and copies it to /tmp; call 2, within 30 s (the machine stays warm
# 30 s), carries .gpu/tvm.part.ab and .whl and runs this script; a later call (still warm) finds TVM
# unpacked. TESTS=0 skips the CUDA tests; BENCH_S=0 the benches; the benches' record store (build
# and run seconds of every candidate) comes back as records.jsonl. Plan DEADLINE_S with room to spare:
# a bench process takes ~30 s to start, a run of MetaSchedule's search (metaschedule, learned) 150-220 s
# for 64 trials, and the verification after a bench's last run ~30 s more (H200, BENCHMARKS.md); a
# bench without metaschedule among its agents also runs one MetaSchedule reference run per task.
T0=$(date +%s)
mkdir -p /tmp/site /tmp/res
if [ ! -d /tmp/site/tvm ]; then
  cat /tmp/tvm.part.aa .gpu/tvm.part.ab | xz -d -T0 | tar -x -C /tmp/site || { echo "unpack failed"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MSGYM_CACHE_DIR=/tmp/msgym-cache
echo "setup $(( $(date +%s) - T0 )) s"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
if [ "${TESTS:-1}" != 0 ]; then
  timeout 150 python3 -m pytest -q -p no:cacheprovider tests/measure/test_gpu.py 2>&1 | tail -15 | tee "$OUT/pytest.txt"
  echo "tests done $(( $(date +%s) - T0 )) s"
fi
# Each argument is one bench's arguments (default: BENCH_ARGS), run in order while time is left of
# DEADLINE_S (from the script's start): bench N writes gpu_N.json, all into one record store.
[ $# -eq 0 ] && set -- "${BENCH_ARGS}"
rm -rf /tmp/res/* /tmp/runs
n=0
for args in "$@"; do
  n=$((n + 1))
  left=$(( ${DEADLINE_S:-390} - ($(date +%s) - T0) ))
  if [ "${BENCH_S:-390}" = 0 ] || [ "$left" -lt 60 ]; then echo "bench $n not run: ${left} s left"; continue; fi
  echo "bench $n (${left} s left): $args"
  # shellcheck disable=SC2086
  timeout "$left" python3 experiments/bench_gpu.py --json "/tmp/res/gpu_$n.json" --logdir /tmp/runs \
    --budget-s $((left - 30)) $args 2>&1 | tee "$OUT/bench_log_$n.txt" | grep -v "^\s*$" | tail -40
  cp /tmp/res/*.json "$OUT/" 2>/dev/null
  cp /tmp/runs/records.jsonl "$OUT/records.jsonl" 2>/dev/null
done
echo "all done $(( $(date +%s) - T0 )) s"

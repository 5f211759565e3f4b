"""This CPU's float32 FMA peak, measured: what no GEMM kernel can pass (issue 15's ceiling).

A C loop of 12 independent AVX-512 FMA chains per thread (enough to keep two FMA ports busy through
a 4-cycle latency) on 1 and on every core (OpenMP), compiled with gcc ``-O2 -march=native``; the
best of a few runs. Peak GFLOPS = FMAs x 16 lanes x 2 flops / time. Machines without AVX-512 get
the AVX2 variant (8 lanes)::

    python experiments/peak_flops.py --json experiments/results/peak_flops.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import write_json  # noqa: E402

from msgym._tvm import host_cpu  # noqa: E402
from msgym.search import command_line  # noqa: E402

CHAINS = 12

SOURCE = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define FMA _mm512_fmadd_ps
#define SET _mm512_set1_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define LANES 8
#define FMA _mm256_fmadd_ps
#define SET _mm256_set1_ps
static float SUM(__m256 v) {
  float t[8], s = 0;
  _mm256_storeu_ps(t, v);
  for (int i = 0; i < 8; i++) s += t[i];
  return s;
}
#endif
int main(int argc, char **argv) {
  long iters = atol(argv[1]);
  int threads = atoi(argv[2]);
  omp_set_num_threads(threads);
  double best = 1e30; float sink = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = omp_get_wtime();
    #pragma omp parallel reduction(+:sink)
    {
      vec b = SET(0.999999f), c = SET(1e-6f);
      vec a[CHAINS];
      for (int k = 0; k < CHAINS; k++) a[k] = SET(1.0f + k);
      for (long i = 0; i < iters; i++) {
        #pragma GCC unroll 16
        for (int k = 0; k < CHAINS; k++) a[k] = FMA(a[k], b, c);
      }
      for (int k = 0; k < CHAINS; k++) sink += SUM(a[k]);
    }
    double t = omp_get_wtime() - t0;
    if (t < best) best = t;
  }
  printf("%d %.9f %f\n", LANES, best, sink);
  return 0;
}
"""


def measure(binary: str, threads: int, iters: int) -> dict:
    out = subprocess.run([binary, str(iters), str(threads)], capture_output=True, text=True, check=True).stdout
    lanes, seconds, _ = out.split()
    flops = iters * CHAINS * int(lanes) * 2 * threads
    return {"threads": threads, "lanes": int(lanes), "seconds": float(seconds), "gflops": flops / float(seconds) / 1e9}


def compile_peak(folder: str) -> str:
    """The peak loop built with gcc in ``folder``; returns the binary's path."""
    src, binary = os.path.join(folder, "peak.c"), os.path.join(folder, "peak")
    Path(src).write_text(SOURCE)
    subprocess.run(["gcc", "-O2", "-march=native", "-fopenmp", f"-DCHAINS={CHAINS}", src, "-o", binary], check=True)
    return binary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=100_000_000)
    p.add_argument("--json", required=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = compile_peak(tmp)
        rows = [measure(binary, t, args.iters) for t in (1, os.cpu_count() or 1)]
    out = {"command": command_line(), "machine": f"mcpu={host_cpu()}", "chains": CHAINS, "rows": rows}
    for r in rows:
        print(f"{r['threads']} thread(s): {r['gflops']:.1f} GFLOPS fp32 FMA peak ({r['lanes']} lanes)")
    write_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

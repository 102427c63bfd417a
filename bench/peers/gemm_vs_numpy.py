#!/usr/bin/python3
"""Run Ember's GEMM benchmark and NumPy's float32 matmul (OpenBLAS) side by
side and print Ember's GFLOP/s divided by the peer's, plus the FMA ceiling.

Absolute figures drift on shared machines, so both run in the same session,
alternating Ember and NumPy for several rounds per thread count. Each figure
is the fastest product seen, because on a shared machine the slower runs
measure the other processes. OpenBLAS reads its thread count when it loads, so each
NumPy measurement runs in a fresh /usr/bin/python3 process with
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS already set.

Usage:
  bench/peers/gemm_vs_numpy.py --bench build/bench/ember_bench_gemm \\
      [--sizes 64,128,256,512,1024,2048] [--threads 1,2] [--isa avx512,avx2] [--seconds 0.3]
      [--rounds 3]
"""

import argparse
import os
import subprocess
import sys

# Timed the same way as ember_bench_gemm: one warm-up, then the fastest of
# repeated products within a time budget (at least 3).
NUMPY_WORKER = r"""
import sys, time
import numpy as np
sizes = [int(s) for s in sys.argv[1].split(",")]
budget = float(sys.argv[2])
rng = np.random.default_rng(7)
for n in sizes:
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    times = []
    start_budget = time.perf_counter()
    while len(times) < 3 or (len(times) < 1000 and time.perf_counter() - start_budget < budget):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - start)
    print(f"{n}\t{2.0 * n**3 / min(times) / 1e9:.1f}", flush=True)
"""


def run_numpy(sizes, threads, seconds):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    output = subprocess.run(
        ["/usr/bin/python3", "-c", NUMPY_WORKER, ",".join(map(str, sizes)), str(seconds)],
        env=env, check=True, capture_output=True, text=True).stdout
    result = {}
    for line in output.splitlines():
        n, gflops = line.split("\t")
        result[int(n)] = float(gflops)
    return result


def run_ember(bench, sizes, threads, isas, seconds):
    command = [bench, "--sizes", ",".join(map(str, sizes)), "--threads", str(threads),
               "--isa", ",".join(isas), "--seconds", str(seconds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    gemm = {}
    fma = {}
    for line in output.splitlines():
        kind, isa, _, n, gflops = line.split("\t")
        if kind == "fma":
            fma[isa] = float(gflops)
        else:
            gemm[(isa, int(n))] = float(gflops)
    return gemm, fma


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True, help="path to ember_bench_gemm")
    parser.add_argument("--sizes", default="64,128,256,512,1024,2048")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--isa", default="avx512,avx2", help="Ember variants to measure")
    parser.add_argument("--seconds", type=float, default=0.3,
                        help="time budget per measurement, in seconds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating Ember/NumPy rounds per thread count")
    args = parser.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")]
    isas = args.isa.split(",")
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"gemm_vs_numpy: benchmark binary {args.bench} not found or not executable; "
                 "build with -DEMBER_BUILD_BENCH=ON")

    header = ["n", "threads"] + [f"ember {isa}" for isa in isas] + ["OpenBLAS"]
    header += [f"{isa}/OpenBLAS" for isa in isas]
    print("\t".join(header))
    for threads in [int(t) for t in args.threads.split(",")]:
        ember, fma, peer = {}, {}, {}
        for _ in range(args.rounds):
            round_ember, round_fma = run_ember(args.bench, sizes, threads, isas, args.seconds)
            round_peer = run_numpy(sizes, threads, args.seconds)
            for table, update in ((ember, round_ember), (fma, round_fma), (peer, round_peer)):
                for key, value in update.items():
                    table[key] = max(table.get(key, 0.0), value)
        for n in sizes:
            row = [str(n), str(threads)]
            row += [f"{ember[(isa, n)]:.1f}" for isa in isas]
            row.append(f"{peer[n]:.1f}")
            row += [f"{ember[(isa, n)] / peer[n]:.2f}" for isa in isas]
            print("\t".join(row), flush=True)
        for isa, ceiling in fma.items():
            best = max(ember[(isa, n)] for n in sizes)
            print(f"# FMA ceiling {isa}, {threads} threads: {ceiling:.1f} GFLOP/s; best Ember "
                  f"GEMM {best:.1f} = {100 * best / ceiling:.0f}% of it; best OpenBLAS "
                  f"{max(peer.values()):.1f} = {100 * max(peer.values()) / ceiling:.0f}%",
                  flush=True)


if __name__ == "__main__":
    main()

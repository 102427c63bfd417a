"""PyTorch's CPU ctc_loss on the inputs bench_alignment writes, timed the same way.

Usage: ctc_peer.py INPUT_FILE REPEATS

INPUT_FILE is little-endian: int32 B, L, C, T, blank; float32 log_probs
[B, L, C]; int32 targets [B, T]; int32 input lengths [B]; int32 target
lengths [B]. Prints one line: the summed loss, then the median wall-clock and
the median process CPU milliseconds of forward + backward. Set OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before
starting Python; torch.set_num_threads alone does not limit OpenBLAS.
"""
import statistics
import sys
import time

import numpy as np
import torch


def load(path):
    raw = open(path, "rb").read()
    header = np.frombuffer(raw, dtype="<i4", count=5)
    batch, windows, symbols, length, blank = (int(v) for v in header)
    offset = 5 * 4
    log_probs = np.frombuffer(raw, dtype="<f4", count=batch * windows * symbols, offset=offset)
    offset += log_probs.nbytes
    targets = np.frombuffer(raw, dtype="<i4", count=batch * length, offset=offset)
    offset += targets.nbytes
    input_lengths = np.frombuffer(raw, dtype="<i4", count=batch, offset=offset)
    offset += input_lengths.nbytes
    target_lengths = np.frombuffer(raw, dtype="<i4", count=batch, offset=offset)
    return (
        torch.from_numpy(log_probs.reshape(batch, windows, symbols).copy()),
        torch.from_numpy(targets.reshape(batch, length).astype(np.int64)),
        torch.from_numpy(input_lengths.astype(np.int64)),
        torch.from_numpy(target_lengths.astype(np.int64)),
        blank,
    )


def main():
    log_probs, targets, input_lengths, target_lengths, blank = load(sys.argv[1])
    repeats = int(sys.argv[2])
    # ctc_loss expects [L, B, C].
    leaf = log_probs.transpose(0, 1).contiguous().requires_grad_(True)

    def step():
        loss = torch.nn.functional.ctc_loss(
            leaf, targets, input_lengths, target_lengths, blank=blank, reduction="sum")
        loss.backward()
        leaf.grad = None
        return float(loss)

    value = step()
    for _ in range(3):
        step()
    wall = []
    cpu = []
    for _ in range(repeats):
        start = time.perf_counter()
        cpu_start = time.process_time()
        step()
        cpu.append((time.process_time() - cpu_start) * 1e3)
        wall.append((time.perf_counter() - start) * 1e3)
    print(f"{value:.6f} {statistics.median(wall):.4f} {statistics.median(cpu):.4f}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch's side of bench_models: one Adam training step of the two
sliding-window recognizers, timed the same way as Ember's.

Usage: models_peer.py --threads N [--steps N] [--warmup N] [--cases LIST]

LIST is a comma-separated subset of A-CTC, A-CE, B-CTC, B-CE (default: all,
in that order). Each case trains on a batch of 32 random 32 x W images
(W = 90 for CTC with random 5-symbol targets, W = 18 for cross-entropy with
one label per image), 27 symbols with blank 26, Adam at lr 1e-3.

Prints one line per case: name, the median wall-clock and the median process
CPU milliseconds of one step, and the loss of the first step. A last line
"peak_kib K" gives the process's peak resident memory (VmHWM).

OMP_NUM_THREADS and OPENBLAS_NUM_THREADS must be set before torch is
imported (torch.set_num_threads alone does not limit OpenBLAS), so the
script re-executes itself with them set when they differ from --threads.
It needs Debian's python3-torch, not anything Ember builds.
"""
import argparse
import os
import statistics
import sys
import time

BATCH = 32
SYMBOLS = 27
BLANK = 26
TARGET_LENGTH = 5
HEIGHT = 32


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cases", default="A-CTC,A-CE,B-CTC,B-CE")
    return parser.parse_args()


def reexec_with_thread_limits(threads):
    expected = str(threads)
    if os.environ.get("OMP_NUM_THREADS") == expected and \
            os.environ.get("OPENBLAS_NUM_THREADS") == expected:
        return
    environment = dict(os.environ, OMP_NUM_THREADS=expected, OPENBLAS_NUM_THREADS=expected)
    os.execve(sys.executable, [sys.executable] + sys.argv, environment)


def peak_resident_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def build_models(torch):
    nn = torch.nn

    class TinyRecognizer(nn.Module):
        # Model A: [B, 1, 32, W] -> energies [B, L, C], 726 parameters.
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, (4, 8))
            self.pool = nn.MaxPool2d((3, 6))
            self.hidden = nn.Linear(9, 18)
            self.output = nn.Linear(18, SYMBOLS)

        def forward(self, images):
            rows = self.pool(torch.relu(self.conv(images)))  # [B, 1, 9, L]
            features = rows.squeeze(1).transpose(1, 2)        # [B, L, 9]
            return self.output(torch.relu(self.hidden(features)))

    class CnnRecognizer(nn.Module):
        # Model B: [B, 1, 32, W] -> energies [B, L, C], 157,659 parameters.
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 3)),
                nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)),
                nn.Conv2d(64, 128, (4, 3)), nn.ReLU(),
                nn.Conv2d(128, SYMBOLS, 1))

        def forward(self, images):
            return self.layers(images).squeeze(2).transpose(1, 2)  # [B, L, C]

    return {"A": TinyRecognizer, "B": CnnRecognizer}


def make_step(torch, model, loss_kind):
    functional = torch.nn.functional
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    width = 90 if loss_kind == "CTC" else 18
    images = torch.rand(BATCH, 1, HEIGHT, width)
    windows = model(images).shape[1]
    if loss_kind == "CTC":
        targets = torch.randint(0, SYMBOLS - 1, (BATCH, TARGET_LENGTH))
        input_lengths = torch.full((BATCH,), windows, dtype=torch.long)
        target_lengths = torch.full((BATCH,), TARGET_LENGTH, dtype=torch.long)
    else:
        labels = torch.randint(0, SYMBOLS - 1, (BATCH,))

    def loss_of(energies):
        if loss_kind == "CTC":
            # ctc_loss expects log-probabilities [L, B, C]. Sum / B is the batch
            # mean of -log p(y | x), the same as Ember's ctc loss.
            log_probs = functional.log_softmax(-energies, dim=2).transpose(0, 1)
            return functional.ctc_loss(log_probs, targets, input_lengths, target_lengths,
                                       blank=BLANK, reduction="sum") / BATCH
        return functional.cross_entropy(-energies.reshape(BATCH, SYMBOLS), labels)

    def step():
        optimizer.zero_grad()
        loss = loss_of(model(images))
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def time_steps(step, warmup, steps):
    first_loss = step()
    for _ in range(warmup - 1):
        step()
    wall = []
    cpu = []
    for _ in range(steps):
        cpu_start = time.process_time()
        start = time.perf_counter()
        step()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu_start) * 1e3)
    return statistics.median(wall), statistics.median(cpu), first_loss


def main():
    arguments = parse_arguments()
    reexec_with_thread_limits(arguments.threads)
    import torch

    torch.set_num_threads(arguments.threads)
    torch.manual_seed(1234)
    models = build_models(torch)
    for case in arguments.cases.split(","):
        model_name, loss_kind = case.split("-")
        model = models[model_name]()
        wall_ms, cpu_ms, loss = time_steps(make_step(torch, model, loss_kind),
                                           max(1, arguments.warmup), max(1, arguments.steps))
        print(f"{case} {wall_ms:.4f} {cpu_ms:.4f} {loss:.6f}", flush=True)
    print(f"peak_kib {peak_resident_kib()}", flush=True)


if __name__ == "__main__":
    main()

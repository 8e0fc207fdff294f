"""PyTorch CPU's training step on the T1/T2 workloads of bench/README.md.

Forward + backward + Adam step + zero_grad, float32, dropout 0, the same shapes as
bench/train_bench.ts. Prints one JSON object on stdout.

  /usr/bin/python3 bench/pytorch_train.py                  # time T1 and T2 at 1 and 2 threads
  /usr/bin/python3 bench/pytorch_train.py --memory T1      # RSS of a step in this fresh process

BLAS: Debian's OpenBLAS (libopenblas0-pthread) when it is installed, with
OPENBLAS_CORETYPE=SkylakeX on an AVX-512 CPU (see prefer_openblas); the JSON names
the BLAS library actually loaded.
"""

import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import time


def prefer_openblas():
    """Debian's torch links libblas.so.3, a Debian alternative that may point at the
    reference BLAS (~15x slower products here) while OpenBLAS is installed beside it.
    Loading OpenBLAS's libblas.so.3/liblapack.so.3 first makes the dynamic linker bind
    torch to them (same soname). OpenBLAS 0.3.21 does not know recent CPUs and falls
    back to SSE3 kernels: on an AVX-512 CPU it is told SkylakeX (before it loads).
    Returns the OPENBLAS_CORETYPE this process inherited."""
    inherited = os.environ.get("OPENBLAS_CORETYPE")
    with open("/proc/cpuinfo") as f:
        flags = next((line for line in f if line.startswith("flags")), "").split()
    if "avx512f" in flags:  # overrides an inherited OPENBLAS_CORETYPE (Haswell here)
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    for name in ("libblas.so.3", "liblapack.so.3"):
        path = f"/usr/lib/x86_64-linux-gnu/openblas-pthread/{name}"
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    return inherited


INHERITED_CORETYPE = prefer_openblas()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

VOCAB = 1000


def blas_library():
    """Path of the BLAS this process loaded (libblas.so.3 is a Debian alternative)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
    return sorted(paths)


def set_blas_threads(n):
    """OpenBLAS keeps its own thread pool: torch.set_num_threads does not reach it here."""
    for path in blas_library():
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(n)
            return True
    return False


def rss_mib():
    """Resident set size now, from /proc/self/statm (pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Seq2Seq(nn.Module):
    """Embeddings x sqrt(dModel) + sinusoidal positions, nn.Transformer, linear generator."""

    def __init__(self, d_model=128, heads=4, d_ff=512, layers=2, max_len=16):
        super().__init__()
        self.d_model = d_model
        self.src_embedding = nn.Embedding(VOCAB, d_model)
        self.tgt_embedding = nn.Embedding(VOCAB, d_model)
        self.transformer = nn.Transformer(
            d_model, heads, layers, layers, d_ff, dropout=0.0, batch_first=True
        )
        self.generator = nn.Linear(d_model, VOCAB)
        pos = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, src, tgt):
        scale = math.sqrt(self.d_model)
        s = self.src_embedding(src) * scale + self.pe[: src.shape[1]]
        t = self.tgt_embedding(tgt) * scale + self.pe[: tgt.shape[1]]
        mask = self.transformer.generate_square_subsequent_mask(tgt.shape[1])
        h = self.transformer(s, t, tgt_mask=mask)
        return F.log_softmax(self.generator(h), dim=-1)  # [B, T, V]


def workload(name):
    """(model, one training step as a function returning the loss) for T1 or T2."""
    torch.manual_seed(0)
    if name == "T1":
        model = nn.TransformerEncoderLayer(512, 8, 2048, dropout=0.0, batch_first=True)
        x = torch.randn(8, 64, 512)

        def loss_fn():
            return model(x).square().mean()

    else:
        model = Seq2Seq()
        src = torch.randint(0, VOCAB, (32, 16))
        tgt = torch.randint(0, VOCAB, (32, 16))
        labels = torch.randint(0, VOCAB, (32 * 16,))

        def loss_fn():
            return F.nll_loss(model(src, tgt).reshape(-1, VOCAB), labels)

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    phases = {"forward": [], "backward": [], "step": []}

    def step(record=False, after=lambda phase: None):
        t0 = time.perf_counter()
        loss = loss_fn()
        t1 = time.perf_counter()
        after("forward")
        loss.backward()
        t2 = time.perf_counter()
        after("backward")
        opt.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        after("step")
        if record:
            phases["forward"].append(t1 - t0)
            phases["backward"].append(t2 - t1)
            phases["step"].append(t3 - t2)
        return loss.item()

    return step, phases


def time_workload(name, threads, runs, warmup):
    torch.set_num_threads(threads)
    set_blas_threads(threads)
    step, phases = workload(name)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step(record=True)
        times.append(time.perf_counter() - t0)
    ms = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    return {
        "threads": threads,
        "runs": runs,
        "medianMs": ms(times),
        "minMs": min(times) * 1e3,
        "forwardMs": ms(phases["forward"]),
        "backwardMs": ms(phases["backward"]),
        "stepMs": ms(phases["step"]),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--memory", choices=["T1", "T2"])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    if a.memory:
        torch.set_num_threads(2)
        set_blas_threads(2)
        before = rss_mib()
        step, _ = workload(a.memory)
        step()  # the library's probe runs a checking step first too
        samples = {}
        step(after=lambda phase: samples.__setitem__(phase, rss_mib()))
        print(json.dumps({
            "workload": a.memory,
            "rssBeforeMiB": before,
            "rssAfterMiB": samples,
            "peakRssMiB": max(samples.values()),
            # ru_maxrss is KiB on Linux: the kernel's exact peak of this process
            "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))
        return
    out = {
        "torch": torch.__version__,
        "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE"),
        "inheritedCoretype": INHERITED_CORETYPE,
        "blas": blas_library(),
        "results": {},
    }
    for name in ("T1", "T2"):
        rows = [time_workload(name, int(t), a.runs, a.warmup) for t in a.threads.split(",")]
        best = min(rows, key=lambda r: r["medianMs"])
        out["results"][name] = {"best": best, "byThreads": rows}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

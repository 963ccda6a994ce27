"""A full StyleGAN 1 training iteration (D step with WGAN-GP penalty + G step, style
mixing on, EMA update) and EMA-generator sampling: Jittor (jittor_stylegan) vs rosinality's
PyTorch model (bench/torch_stylegan1.py) twice: as rosinality wrote it (blur = grouped conv)
and as the fastest PyTorch we know (the same blur as one conv over (N*C, 1, H, W) planes;
PyTorch differentiates a grouped conv twice group by group). Same inputs, batch 16.

    .venv/bin/python bench/bench_training.py [--sizes 16 32 64] [--widths small default] [--quick]
    .venv/bin/python bench/bench_training.py --widths default --sizes 32 64 128 256 --tf32_both  # a GPU

Each (implementation, size, width, TF32) runs in its own process, alternating implementations,
so peak memory belongs to one implementation: on CPU the resident set size; on CUDA each
framework's allocator peak (Jittor: memory its allocator holds, which it keeps once taken;
PyTorch: torch.cuda.max_memory_reserved). ``--rounds`` repeats the alternation and pools the
timed iterations of all rounds, so that a burst of load on a noisy machine does not decide a ratio.
FLOPs of an iteration are counted by PyTorch from the shapes of every matmul and convolution
(forward, backward and the penalty's double backward) and hold for every implementation;
MFU divides the achieved rate by the GPU's float32 peak (not the TF32 tensor-core peak).
Networks are built up to the benchmarked size and run at alpha 0.5 (fade-in: both the
new block and the skip path are active).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import common
from jittor_stylegan import runtime

IMPLEMENTATIONS = {  # name in the tables: (worker, blur of the PyTorch model)
    "Jittor (this project)": ("jittor", None),
    "PyTorch, rosinality (grouped-conv blur)": ("torch", "grouped"),
    "PyTorch, fastest (per-plane blur)": ("torch", "planes"),
}
WIDTHS = {  # network settings, as train.py's cfg keys
    "default": dict(code_size=512, n_mlp=8, channel_base=16384, max_channels=512),
    "small": dict(code_size=64, n_mlp=4, channel_base=512, max_channels=64),  # train.py --preset cpu-demo
}
ALPHA, LR = 0.5, 0.001


def worker_inputs(cfg, size, batch, iterations):
    import numpy as np
    from jittor_stylegan.training.stylegan1 import iteration_inputs

    step = size.bit_length() - 3
    rng = np.random.default_rng(0)
    return [(rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32),
             iteration_inputs(rng, batch, cfg["code_size"], step, mixing=True)) for _ in range(iterations)], step


def jittor_worker(cfg, size, batch, iterations, warmup, sample_batch, blur):
    import jittor_stylegan  # noqa: F401  (configured from the environment the parent set)
    import jittor as jt
    from jittor_stylegan.training.stylegan1 import build_networks, make_optimizers, train_iteration

    data, step = worker_inputs(cfg, size, batch, iterations + warmup)
    G, D, g_running = build_networks(dict(cfg, max_size=size, channels=3, no_from_rgb_activate=False))
    g_opt, d_opt = make_optimizers(G, D, LR)
    times, device_bytes = [], 0
    for i, (real, inputs) in enumerate(data):
        start = time.perf_counter()
        losses = train_iteration(G, D, g_running, g_opt, d_opt, real, inputs, step, ALPHA, "wgan-gp")
        jt.sync(list(losses) + list(g_running.parameters()))
        times.append(time.perf_counter() - start)
        device_bytes = max(device_bytes, jt.get_mem_info().total_cuda_used)

    def sample():
        with jt.no_grad():
            out = g_running(jt.randn(sample_batch, cfg["code_size"]), step=step, alpha=ALPHA)
            out.sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    return dict(times=times[warmup:], sample_s=sample_time,
                device_mb=device_bytes / 2 ** 20 if jt.flags.use_cuda else None, flops=None)


class FlopCount:
    """FLOPs of every matmul / convolution (and their derivatives) PyTorch runs, from their shapes."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import flop_registry

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                count = flop_registry.get(func._overloadpacket)
                if count is not None:
                    counter.flops += count(*args, **kwargs, out_val=out)
                return out
        self.flops, self.mode = 0, Mode()


def torch_worker(cfg, size, batch, iterations, warmup, sample_batch, blur):
    import torch
    import torch_stylegan1 as tsg

    common.torch_precision(torch)
    device = "cuda" if torch.cuda.is_available() and os.environ.get("JSG_DEVICE") != "cpu" else "cpu"
    data, step = worker_inputs(cfg, size, batch, iterations + warmup)
    g_args = dict(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], max_size=size, channel_base=cfg["channel_base"],
                  max_channels=cfg["max_channels"])
    G, g_running = tsg.StyledGenerator(**g_args).to(device), tsg.StyledGenerator(**g_args).to(device)
    g_running.load_state_dict(G.state_dict())
    D = tsg.Discriminator(from_rgb_activate=True, max_size=size, channel_base=cfg["channel_base"],
                          max_channels=cfg["max_channels"]).to(device)
    for net in (G, g_running, D):
        tsg.set_blur(net, blur)
    g_opt = torch.optim.Adam([{"params": G.generator.parameters()},
                              {"params": G.style.parameters(), "lr": LR * 0.01}], lr=LR, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.0, 0.99))

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def iteration(real, inputs):
        """rosinality's train.py step (WGAN-GP), written as jittor_stylegan.training.stylegan1.train_iteration."""
        real = torch.tensor(real, device=device)
        (gen_in1, gen_in2), (noise1, noise2) = ([[torch.tensor(a, device=device) for a in arrays]
                                                 for arrays in inputs[key]] for key in ("latents", "noise"))
        b = real.shape[0]
        fake = G(gen_in1, noise=noise1, step=step, alpha=ALPHA).detach()
        real_scores = D(real, step=step, alpha=ALPHA)
        real_loss = -(real_scores.mean() - 0.001 * (real_scores ** 2).mean())
        fake_loss = D(fake, step=step, alpha=ALPHA).mean()
        eps = torch.tensor(inputs["eps"], device=device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(D(x_hat, step=step, alpha=ALPHA).sum(), x_hat, create_graph=True)
        penalty = 10 * ((grad.reshape(b, -1).norm(2, dim=1) - 1) ** 2).mean()
        d_loss = real_loss + fake_loss + penalty
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        D.requires_grad_(False)
        g_loss = -D(G(gen_in2, noise=noise2, step=step, alpha=ALPHA), step=step, alpha=ALPHA).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)
        with torch.no_grad():
            for e, p in zip(g_running.parameters(), G.parameters()):
                e.mul_(0.999).add_(p, alpha=0.001)
        return d_loss.item(), g_loss.item(), penalty.item()

    counter = FlopCount()
    with counter.mode:  # the first (untimed) iteration, counted
        iteration(*data[0])
    times = []
    for real, inputs in data[1:]:
        start = time.perf_counter()
        iteration(real, inputs)
        sync()
        times.append(time.perf_counter() - start)

    def sample():
        with torch.no_grad():
            g_running(torch.randn(sample_batch, cfg["code_size"], device=device), step=step, alpha=ALPHA)
        sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    return dict(times=times[max(0, warmup - 1):], sample_s=sample_time, flops=counter.flops,
                device_mb=torch.cuda.max_memory_reserved() / 2 ** 20 if device == "cuda" else None)


def run_worker(implementation, width, size, tf32, args):
    """Run one (implementation, width, size, TF32) in a child process; returns its measurements."""
    worker, blur = IMPLEMENTATIONS[implementation]
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--blur", blur or "grouped",
           "--widths", width, "--sizes", str(size), "--batch", str(args.batch), "--iterations", str(args.iterations),
           "--warmup", str(args.warmup), "--sample_batch", str(args.sample_batch)]
    env = dict(os.environ, FIX_TORCH_ERROR="0", JSG_ALLOW_TF32="1" if tf32 else "0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{implementation} worker failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def pooled(results):
    """One worker result from several rounds: median over all timed iterations and over the
    rounds' sampling times, the largest peak memory."""
    all_s = [x for res in results for x in res["all_s"]]
    return {"iteration_s": statistics.median(all_s), "all_s": all_s,
            "sample_s": statistics.median(res["sample_s"] for res in results),
            "peak_mb": max(res["peak_mb"] for res in results), "memory": results[0]["memory"],
            "flops": results[0]["flops"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["small", "default"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first iterations (kernel compilation)")
    parser.add_argument("--sample_batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="worker processes per framework, alternating")
    parser.add_argument("--quick", action="store_true", help="16 and 32 px at the small width, 2 iterations, 1 round")
    parser.add_argument("--tf32_both", action="store_true", help="GPU: every row with TF32 off and on")
    parser.add_argument("--worker", choices=["jittor", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--blur", choices=["grouped", "planes"], default="grouped", help=argparse.SUPPRESS)
    runtime.add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.widths, args.iterations, args.warmup, args.rounds = [16, 32], ["small"], 2, 2, 1
    device = runtime.configure_from_args(args)  # workers inherit the choice through the environment

    if args.worker:
        fn = jittor_worker if args.worker == "jittor" else torch_worker
        res = fn(WIDTHS[args.widths[0]], args.sizes[0], args.batch, args.iterations, args.warmup,
                 args.sample_batch, args.blur)
        memory = res["device_mb"]
        print(json.dumps({"iteration_s": statistics.median(res["times"]), "all_s": res["times"],
                          "sample_s": res["sample_s"], "flops": res["flops"],
                          "peak_mb": memory or common.peak_rss_mb(),
                          "memory": "device, allocator peak" if memory else "RSS"}))
        return

    peak = common.fp32_peak_flops() if device == "cuda" else None
    tf32_rows = [False, True] if args.tf32_both and device == "cuda" else [bool(args.allow_tf32)]
    stack = common.gpu_stack() if device == "cuda" else ""
    print(f"# bench_training: {common.machine()}{'; ' + stack if stack else ''}; batch {args.batch}, WGAN-GP, "
          f"mixing, alpha {ALPHA}; median of {args.rounds} x {args.iterations} iterations (each process skips "
          f"{args.warmup}); sampling batch {args.sample_batch}; device {device}"
          + (f"; FP32 peak {peak[0] / 1e12:.1f} TFLOP/s ({peak[1]})" if peak else ""), flush=True)
    rows = []
    names = list(IMPLEMENTATIONS)
    for width in args.widths:
        for size in args.sizes:
            for tf32 in tf32_rows:
                runs = [{name: run_worker(name, width, size, tf32, args) for name in names}
                        for _ in range(args.rounds)]
                r = {name: pooled([run[name] for run in runs]) for name in names}
                jittor = r[names[0]]
                flops = r[names[1]]["flops"]  # the model's FLOPs, the same for every implementation
                for name, m in r.items():
                    rate = flops / m["iteration_s"]
                    rows.append([width, size, "on" if tf32 else "off", name, f"{args.batch / m['iteration_s']:.2f}",
                                 "" if m is jittor else f"**{m['iteration_s'] / jittor['iteration_s']:.2f}**",
                                 f"{args.sample_batch / m['sample_s']:.1f}",
                                 "" if m is jittor else f"**{m['sample_s'] / jittor['sample_s']:.2f}**",
                                 f"{m['peak_mb']:.0f} ({m['memory']})", f"{flops / 1e9:.1f}",
                                 f"{rate / 1e12:.3g}", f"{100 * rate / peak[0]:.1f}%" if peak else "n/a"])
                    print(" | ".join(str(c) for c in rows[-1]), "| raw s/it", [round(x, 3) for x in m["all_s"]],
                          flush=True)
    header = ["width", "px", "TF32", "implementation", "train img/s", "Jittor speed-up", "sample img/s",
              "Jittor speed-up", "peak MiB", "GFLOP / iteration", "TFLOP/s", "MFU (FP32 peak)"]
    print("\n" + common.table(header, rows))


if __name__ == "__main__":
    main()

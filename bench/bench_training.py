"""A full StyleGAN 1 training iteration (D step with WGAN-GP penalty + G step, style
mixing on, EMA update) and EMA-generator sampling: Jittor (jittor_stylegan) vs rosinality's
PyTorch model (bench/torch_stylegan1.py), same inputs, batch 16.

    .venv/bin/python bench/bench_training.py [--sizes 16 32 64] [--widths small default] [--quick]

Each (framework, size, width) runs in its own process, alternating frameworks, so peak
memory (resident set size; PyTorch's allocator peak on CUDA) belongs to one implementation;
``--rounds`` repeats that alternation and pools the timed iterations of all rounds, so that
a burst of load on a noisy machine does not decide a ratio.
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


def jittor_worker(cfg, size, batch, iterations, warmup, sample_batch):
    import jittor_stylegan  # noqa: F401
    import jittor as jt
    from jittor_stylegan.training.stylegan1 import build_networks, make_optimizers, train_iteration

    data, step = worker_inputs(cfg, size, batch, iterations + warmup)
    G, D, g_running = build_networks(dict(cfg, max_size=size, channels=3, no_from_rgb_activate=False))
    g_opt, d_opt = make_optimizers(G, D, LR)
    times = []
    for i, (real, inputs) in enumerate(data):
        start = time.perf_counter()
        losses = train_iteration(G, D, g_running, g_opt, d_opt, real, inputs, step, ALPHA, "wgan-gp")
        jt.sync(list(losses) + list(g_running.parameters()))
        times.append(time.perf_counter() - start)

    def sample():
        with jt.no_grad():
            out = g_running(jt.randn(sample_batch, cfg["code_size"]), step=step, alpha=ALPHA)
            out.sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    return times[warmup:], sample_time, None


def torch_worker(cfg, size, batch, iterations, warmup, sample_batch):
    import torch
    import torch_stylegan1 as tsg

    device = "cuda" if torch.cuda.is_available() and os.environ.get("JSG_DEVICE") != "cpu" else "cpu"
    data, step = worker_inputs(cfg, size, batch, iterations + warmup)
    g_args = dict(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], max_size=size, channel_base=cfg["channel_base"],
                  max_channels=cfg["max_channels"])
    G, g_running = tsg.StyledGenerator(**g_args).to(device), tsg.StyledGenerator(**g_args).to(device)
    g_running.load_state_dict(G.state_dict())
    D = tsg.Discriminator(from_rgb_activate=True, max_size=size, channel_base=cfg["channel_base"],
                          max_channels=cfg["max_channels"]).to(device)
    g_opt = torch.optim.Adam([{"params": G.generator.parameters()},
                              {"params": G.style.parameters(), "lr": LR * 0.01}], lr=LR, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.0, 0.99))

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def iteration(real, inputs):
        """rosinality's train.py step (WGAN-GP), written as jittor_stylegan.training.train_iteration."""
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

    times = []
    for real, inputs in data:
        start = time.perf_counter()
        iteration(real, inputs)
        sync()
        times.append(time.perf_counter() - start)

    def sample():
        with torch.no_grad():
            g_running(torch.randn(sample_batch, cfg["code_size"], device=device), step=step, alpha=ALPHA)
        sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    memory = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None
    return times[warmup:], sample_time, memory


def run_worker(framework, width, size, args):
    """Run one (framework, width, size) in a child process; returns its measurements."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--widths", width, "--sizes", str(size),
           "--batch", str(args.batch), "--iterations", str(args.iterations), "--warmup", str(args.warmup),
           "--sample_batch", str(args.sample_batch)]
    env = dict(os.environ, FIX_TORCH_ERROR="0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{framework} worker failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def pooled(results):
    """One worker result from several rounds: median over all timed iterations and over the
    rounds' sampling times, the largest peak memory."""
    all_s = [x for res in results for x in res["all_s"]]
    return {"iteration_s": statistics.median(all_s), "all_s": all_s,
            "sample_s": statistics.median(res["sample_s"] for res in results),
            "peak_mb": max(res["peak_mb"] for res in results), "memory": results[0]["memory"]}


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
    parser.add_argument("--worker", choices=["jittor", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.widths, args.iterations, args.warmup, args.rounds = [16, 32], ["small"], 2, 2, 1

    if args.worker:
        fn = jittor_worker if args.worker == "jittor" else torch_worker
        times, sample_time, memory = fn(WIDTHS[args.widths[0]], args.sizes[0], args.batch, args.iterations,
                                        args.warmup, args.sample_batch)
        print(json.dumps({"iteration_s": statistics.median(times), "all_s": times, "sample_s": sample_time,
                          "peak_mb": memory or common.peak_rss_mb(), "memory": "device" if memory else "rss"}))
        return

    print(f"# bench_training: {common.machine()}; batch {args.batch}, WGAN-GP, mixing, alpha {ALPHA}; "
          f"median of {args.rounds} x {args.iterations} iterations (each process skips {args.warmup}); "
          f"sampling batch {args.sample_batch}",
          flush=True)
    rows = []
    for width in args.widths:
        for size in args.sizes:
            runs = [{fw: run_worker(fw, width, size, args) for fw in ("torch", "jittor")} for _ in range(args.rounds)]
            r = {fw: pooled([run[fw] for run in runs]) for fw in ("torch", "jittor")}
            j, t = r["jittor"], r["torch"]
            rows.append([width, size,
                         f"{args.batch / j['iteration_s']:.2f}", f"{args.batch / t['iteration_s']:.2f}",
                         f"**{t['iteration_s'] / j['iteration_s']:.2f}**",
                         f"{args.sample_batch / j['sample_s']:.1f}", f"{args.sample_batch / t['sample_s']:.1f}",
                         f"**{t['sample_s'] / j['sample_s']:.2f}**",
                         f"{j['peak_mb']:.0f}", f"{t['peak_mb']:.0f}", f"{j['peak_mb'] / t['peak_mb']:.2f}"])
            print(" | ".join(str(c) for c in rows[-1]), "| raw s/it jittor", [round(x, 3) for x in j["all_s"]],
                  "torch", [round(x, 3) for x in t["all_s"]], flush=True)
    header = ["width", "px", "Jittor train img/s", "PyTorch train img/s", "train speed-up",
              "Jittor sample img/s", "PyTorch sample img/s", "sample speed-up",
              f"Jittor peak MiB ({r['jittor']['memory']})", f"PyTorch peak MiB ({r['torch']['memory']})",
              "memory ratio"]
    print("\n" + common.table(header, rows))


if __name__ == "__main__":
    main()

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

``--archs stylegan2``: rosinality's StyleGAN 2 iteration (non-saturating loss, style mixing,
lazy R1 every 16 iterations and path length every 4 on half the batch, EMA), this project's
``training.stylegan2.StyleGAN2.train_step`` vs bench/torch_stylegan2.py's ``train_iteration``,
configured as train.py's StyleGAN 2 defaults ("default": channel multiplier 2, 512-d latents) or
its cpu-demo preset ("small"), batch 16. Both start from the Jittor worker's initial weights and
run the same iterations on the same inputs (the Jittor worker writes both, drawn as train_step
draws them, for the PyTorch worker to read), so the first iteration's losses are compared.
Each kind of iteration is timed: plain (D and G steps), with path length, with R1 and path length;
an iteration costs on average (12 plain + 3 path + 1 both) / 16 of them. The untimed first
iterations are one of each kind (FLOPs are counted on them: with ``--warmup`` under 3, none).
``--fp16_res 0 4`` adds Jittor rows with mixed precision (train.py ``--fp16_res 4``, NVIDIA's default). On
CUDA, with NVIDIA's stylegan2-ada-pytorch at hand (``--nvidia_src DIR``, ``$JSG_NVIDIA_SRC`` or what
``bench/prepare_nvidia.sh`` put in bench/.nvidia/src), its training iteration is a row too
(bench/nvidia_stylegan2.py: float16 on the top 4 resolutions, its custom CUDA ops); it stays out of CPU
tables, where it runs its slow reference ops. Every row's MFU uses rosinality's FLOP count (the same model).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import common
from jittor_stylegan import runtime

HERE = os.path.dirname(os.path.abspath(__file__))

IMPLEMENTATIONS = {  # name in the tables: (worker, blur of the PyTorch model)
    "Jittor (this project)": ("jittor", None),
    "PyTorch, rosinality (grouped-conv blur)": ("torch", "grouped"),
    "PyTorch, fastest (per-plane blur)": ("torch", "planes"),
}
WIDTHS = ("default", "small")  # StyleGAN 1's width settings: its defaults, or train.py --preset cpu-demo
ALPHA, LR = 0.5, 0.001


def sg1_widths(width):
    """StyleGAN 1's width settings (train.py's cfg keys) for "default" or "small" (the cpu-demo preset)."""
    from jittor_stylegan.training.settings import FAMILIES

    family = FAMILIES["stylegan1"]
    source = family.presets["cpu-demo"] if width == "small" else family.defaults
    return {name: source[name] for name in family.widths}


def worker_inputs(cfg, size, batch, iterations):
    """(real images, random inputs) of each iteration, the inputs as StyleGAN1.draw_inputs draws them
    for seed 0 with style mixing; and the progressive step of ``size``."""
    from jittor_stylegan.training.family import MIXING_PROB
    from jittor_stylegan.training.stylegan1 import iteration_inputs

    step = size.bit_length() - 3
    rng = np.random.default_rng(0)
    data = []
    for i in range(iterations):
        draw = np.random.default_rng([0, i])
        n = 2 if draw.random() < MIXING_PROB else 1
        data.append((rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32),
                     iteration_inputs(draw, batch, cfg["code_size"], step, n)))
    return data, step


def jittor_worker(cfg, size, batch, iterations, warmup, sample_batch, blur):
    import jittor_stylegan  # noqa: F401  (configured from the environment the parent set)
    import jittor as jt
    from jittor_stylegan.training.stylegan1 import StyleGAN1

    data, step = worker_inputs(cfg, size, batch, iterations + warmup)
    family = StyleGAN1(dict(cfg, init_size=size, max_size=size, phase=1, batch_default=batch, lr=LR, sched=False,
                            loss="wgan-gp", mixing=True, channels=3, no_from_rgb_activate=False, seed=0))
    family.alpha = lambda: ALPHA  # fading in: both to_rgb paths run
    times, device_bytes = [], 0
    for i, (real, _) in enumerate(data):
        start = time.perf_counter()
        family.train_step(real, i)
        jt.sync(list(family.G_ema.parameters()))
        times.append(time.perf_counter() - start)
        device_bytes = max(device_bytes, jt.get_mem_info().total_cuda_used)

    def sample():
        with jt.no_grad():
            out = family.G_ema(jt.randn(sample_batch, cfg["code_size"]), step=step, alpha=ALPHA)
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


# ---------------------------------------------------------------- StyleGAN 2

SG2_IMPLEMENTATIONS = {"Jittor (this project)": ("jittor2", 0), "PyTorch, rosinality": ("torch2", 0)}
NVIDIA_ROW = "PyTorch, NVIDIA stylegan2-ada (fp16 top 4)"
SG2_KINDS = ("plain", "path", "both")  # no regularizer; path length; R1 and path length
SG2_KIND_SHARE = {"plain": 12 / 16, "path": 3 / 16, "both": 1 / 16}  # R1 every 16, path length every 4
SG2_LOSSES = {"d_loss": "d", "g_loss": "g", "r1": "r1", "path_penalty": "path", "path_length": "path_length"}


def sg2_config(width, size, batch):
    """train.py's StyleGAN 2 settings (defaults, or the cpu-demo preset for "small") at this size and
    batch, style mixing on, 3 image channels; the EMA decay and R1's gamma are rosinality's for both widths (its
    iteration, the PyTorch side, has them built in)."""
    from jittor_stylegan.training.settings import FAMILIES

    family = FAMILIES["stylegan2"]
    defaults = family.defaults
    cfg = dict(defaults, **(family.presets["cpu-demo"] if width == "small" else {}))
    cfg.update(max_size=size, batch_default=batch, channels=3, seed=0, mixing=True, ema_decay=defaults["ema_decay"],
               r1=defaults["r1"])
    return cfg


def sg2_schedule(iterations, warmup):
    """(iteration index, kind, timed) in run order: ``warmup`` untimed iterations (the first three
    are one of each kind), then ``iterations`` of each kind."""
    first = [0, 1, 4] + [i for i in range(2, warmup + 2) if i != 4]  # each kind once, first
    runs = [(i, sg2_kind(i), False) for i in first[:warmup]]
    for r in range(1, iterations + 1):
        runs += [(16 * r, "both", True), (16 * r + 4, "path", True), (16 * r + 1, "plain", True)]
    return runs


def sg2_kind(i):
    return "both" if i % 16 == 0 else "path" if i % 4 == 0 else "plain"


def sg2_real(i, batch, size):
    return np.random.default_rng([1, i]).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)


def sg2_torch_inputs(family, i):
    """Iteration ``i``'s random inputs as the family's train_step draws them (one process: every sample),
    in torch_stylegan2.iteration_inputs' form."""
    drawn = family.draw_inputs(np.random.default_rng([family.cfg["seed"], i]), family.batch_size, slice(None), i)
    out = {key: {"z": drawn[key]["z"], "noise": drawn[key]["noise"], "inject_index": drawn[key]["inject"]}
           for key in ("d", "g", "path") if key in drawn}
    if "path" in out:
        out["path"]["image_noise"] = drawn["path_noise"]
    return out


def sg2_implementations(fp16_res, nvidia_src):
    """{row name: (worker, fp16_res)}: Jittor in float32 first (the speed-ups' base), rosinality second (the
    FLOP count and the losses' check), Jittor with each ``fp16_res`` > 0, NVIDIA's when its source is given."""
    impls = dict(SG2_IMPLEMENTATIONS)
    impls.update({f"Jittor, --fp16_res {n}": ("jittor2", n) for n in fp16_res if n})
    if nvidia_src:
        impls[NVIDIA_ROW] = ("nvidia2", 0)
    return impls


def sg2_jittor_worker(cfg, iterations, warmup, sample_batch, exchange):
    import jittor as jt
    from jittor_stylegan import convert
    from jittor_stylegan.formats import checkpoint
    from jittor_stylegan.training.stylegan2 import StyleGAN2

    family = StyleGAN2(cfg)
    schedule = sg2_schedule(iterations, warmup)
    if not cfg["fp16_res"]:  # the float32 worker hands the PyTorch worker its weights and inputs (no pickle)
        checkpoint.save(exchange, {}, {
            "g": convert.numpy_state(family.G), "d": convert.numpy_state(family.D),
            "inputs": {str(i): sg2_torch_inputs(family, i) for i, _, _ in schedule}})
    times, first, device_bytes = {kind: [] for kind in SG2_KINDS}, None, 0
    for i, kind, timed in schedule:
        real = sg2_real(i, family.batch_size, family.resolution)
        start = time.perf_counter()
        values = family.train_step(real, i)
        jt.sync_all()
        if timed:
            times[kind].append(time.perf_counter() - start)
        first = first or {SG2_LOSSES[k]: v for k, v in values.items() if k in SG2_LOSSES}
        device_bytes = max(device_bytes, jt.get_mem_info().total_cuda_used)
    rng = np.random.default_rng(2)

    def sample():
        with jt.no_grad():
            family.G_ema([jt.array(rng.standard_normal((sample_batch, cfg["code_size"]), dtype=np.float32))],
                         rng=rng)[0].sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    return dict(kind_s=times, sample_s=sample_time, losses=first,
                device_mb=device_bytes / 2 ** 20 if jt.flags.use_cuda else None, flops=None)


def sg2_torch_worker(cfg, iterations, warmup, sample_batch, exchange):
    import torch
    import torch_stylegan2 as tsg2
    from jittor_stylegan.formats import checkpoint

    common.torch_precision(torch)
    device = "cuda" if torch.cuda.is_available() and os.environ.get("JSG_DEVICE") != "cpu" else "cpu"
    size = cfg["max_size"]
    table = tsg2.channel_table(cfg["channel_multiplier"])
    channels = {s: min(w, cfg["max_channels"]) for s, w in table.items() if s <= size}
    G, D, g_ema, g_optim, d_optim = tsg2.make_training(size, cfg["code_size"], cfg["n_mlp"], channels=channels,
                                                       lr=cfg["lr"], device=device)
    shared = checkpoint.load(exchange)[1]
    for net, key in ((G, "g"), (g_ema, "g"), (D, "d")):
        net.load_state_dict({k: torch.from_numpy(v) for k, v in shared[key].items()}, strict=True)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    times, first, flops = {kind: [] for kind in SG2_KINDS}, None, {}
    mean_path_length = 0.0
    for i, kind, timed in sg2_schedule(iterations, warmup):
        real = torch.from_numpy(sg2_real(i, cfg["batch_default"], size)).to(device)
        counter = FlopCount() if not timed and kind not in flops else None
        start = time.perf_counter()
        if counter:
            with counter.mode:
                losses, mean_path_length = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, i, real,
                                                                shared["inputs"][str(i)], mean_path_length)
            flops[kind] = counter.flops
        else:
            losses, mean_path_length = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, i, real,
                                                            shared["inputs"][str(i)], mean_path_length)
        sync()
        if timed:
            times[kind].append(time.perf_counter() - start)
        first = first or losses

    def sample():
        with torch.no_grad():
            g_ema([torch.randn(sample_batch, cfg["code_size"], device=device)])
        sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    amortized = sum(SG2_KIND_SHARE[k] * flops[k] for k in SG2_KINDS) if len(flops) == len(SG2_KINDS) else None
    return dict(kind_s=times, sample_s=sample_time, losses=first, flops=amortized,
                device_mb=torch.cuda.max_memory_reserved() / 2 ** 20 if device == "cuda" else None)


def sg2_nvidia_worker(cfg, iterations, warmup, sample_batch, nvidia_src):
    import torch
    import nvidia_stylegan2

    common.torch_precision(torch)
    device = "cuda" if torch.cuda.is_available() and os.environ.get("JSG_DEVICE") != "cpu" else "cpu"
    size, batch = cfg["max_size"], cfg["batch_default"]
    run = nvidia_stylegan2.NvidiaTraining(size, batch, cfg["code_size"], cfg["n_mlp"], cfg["channel_multiplier"],
                                          cfg["max_channels"], cfg["lr"], device=device, src=nvidia_src)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    times = {kind: [] for kind in SG2_KINDS}
    for i, kind, timed in sg2_schedule(iterations, warmup):
        real = torch.from_numpy(sg2_real(i, batch, size)).to(device)
        start = time.perf_counter()
        run.iteration(i, real)
        sync()
        if timed:
            times[kind].append(time.perf_counter() - start)

    def sample():
        run.sample(sample_batch)
        sync()
    sample_time = common.median_time(sample, lambda _: None, max(3, iterations))
    return dict(kind_s=times, sample_s=sample_time, losses=None, flops=None, ops=run.ops(),
                device_mb=torch.cuda.max_memory_reserved() / 2 ** 20 if device == "cuda" else None)


def sg2_amortized(kind_s):
    """Seconds per iteration on average over the lazy-regularization cycle, from each kind's median."""
    return sum(share * statistics.median(kind_s[kind]) for kind, share in SG2_KIND_SHARE.items())


def sg2_loss_gap(a, b):
    """Largest relative difference between two first-iteration loss dicts (keys both computed)."""
    keys = [k for k in a if a[k] is not None and b.get(k) is not None]
    return max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-12) for k in keys), keys

def run_worker(implementation, width, size, tf32, args, exchange=None):
    """Run one (implementation, width, size, TF32) in a child process; returns its measurements."""
    fp16_res = 0
    if exchange:
        (worker, fp16_res), blur = args.sg2_implementations[implementation], None
    else:
        worker, blur = IMPLEMENTATIONS[implementation]
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--blur", blur or "grouped",
           "--widths", width, "--sizes", str(size), "--batch", str(args.batch), "--iterations", str(args.iterations),
           "--warmup", str(args.warmup), "--sample_batch", str(args.sample_batch), "--fp16_res", str(fp16_res)]
    cmd += ["--exchange", exchange] if exchange else []
    cmd += ["--nvidia_src", args.nvidia_src] if worker == "nvidia2" else []
    env = dict(os.environ, FIX_TORCH_ERROR="0", JSG_ALLOW_TF32="1" if tf32 else "0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{implementation} worker failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def pooled(results):
    """One worker result from several rounds: median over all timed iterations (StyleGAN 2: over each
    kind's, weighted by its share) and over the rounds' sampling times, the largest peak memory."""
    res = {"sample_s": statistics.median(res["sample_s"] for res in results),
           "peak_mb": max(res["peak_mb"] for res in results), "memory": results[0]["memory"],
           "flops": results[0]["flops"], "losses": results[0].get("losses"), "ops": results[0].get("ops")}
    if "kind_s" in results[0]:
        kind_s = {kind: [x for r in results for x in r["kind_s"][kind]] for kind in SG2_KINDS}
        return dict(res, iteration_s=sg2_amortized(kind_s), kind_s=kind_s,
                    all_s=[x for kind in SG2_KINDS for x in kind_s[kind]])
    all_s = [x for r in results for x in r["all_s"]]
    return dict(res, iteration_s=statistics.median(all_s), all_s=all_s)


def measure(names, width, size, tf32, args, exchange=None):
    """{implementation: pooled result}, the implementations' workers alternating for ``args.rounds``."""
    runs = [{name: run_worker(name, width, size, tf32, args, exchange) for name in names} for _ in range(args.rounds)]
    return {name: pooled([run[name] for run in runs]) for name in names}


def run_worker_here(args):
    """The worker side: measure one implementation and print its result as one JSON line."""
    cfg_args = (args.iterations, args.warmup, args.sample_batch)
    if args.worker in ("jittor2", "torch2", "nvidia2"):
        cfg = dict(sg2_config(args.widths[0], args.sizes[0], args.batch), fp16_res=args.fp16_res[0])
        if args.worker == "nvidia2":
            res = sg2_nvidia_worker(cfg, *cfg_args, args.nvidia_src)
        else:
            res = (sg2_jittor_worker if args.worker == "jittor2" else sg2_torch_worker)(cfg, *cfg_args, args.exchange)
        timing = {"kind_s": res["kind_s"], "losses": res["losses"], "ops": res.get("ops")}
    else:
        fn = jittor_worker if args.worker == "jittor" else torch_worker
        res = fn(sg1_widths(args.widths[0]), args.sizes[0], args.batch, *cfg_args, args.blur)
        timing = {"iteration_s": statistics.median(res["times"]), "all_s": res["times"]}
    memory = res["device_mb"]
    print(json.dumps(dict(timing, sample_s=res["sample_s"], flops=res["flops"],
                          peak_mb=memory or common.peak_rss_mb(),
                          memory="device, allocator peak" if memory else "RSS")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", choices=["stylegan1", "stylegan2"], default=["stylegan1", "stylegan2"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["small", "default"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=5,
                        help="timed iterations (median reported); StyleGAN 2: of each kind")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first iterations (kernel compilation)")
    parser.add_argument("--sample_batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="worker processes per framework, alternating")
    parser.add_argument("--quick", action="store_true", help="16 and 32 px at the small width, 2 iterations, 1 round")
    parser.add_argument("--tf32_both", action="store_true", help="GPU: every row with TF32 off and on")
    parser.add_argument("--fp16_res", type=int, nargs="+", default=[0],
                        help="StyleGAN 2: a Jittor row for each (0: float32; N: train.py --fp16_res N)")
    parser.add_argument("--nvidia_src", default=os.environ.get("JSG_NVIDIA_SRC"),
                        help="StyleGAN 2 on CUDA: NVIDIA's stylegan2-ada-pytorch folder for its row (default "
                             "$JSG_NVIDIA_SRC, else bench/.nvidia/src when bench/prepare_nvidia.sh filled it)")
    parser.add_argument("--worker", choices=["jittor", "torch", "jittor2", "torch2", "nvidia2"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--blur", choices=["grouped", "planes"], default="grouped", help=argparse.SUPPRESS)
    parser.add_argument("--exchange", help=argparse.SUPPRESS)
    runtime.add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.widths, args.iterations, args.warmup, args.rounds = [16, 32], ["small"], 2, 2, 1
    device = runtime.configure_from_args(args)  # workers inherit the choice through the environment

    if args.worker:
        run_worker_here(args)
        return

    if args.nvidia_src is None and os.path.isdir(os.path.join(HERE, ".nvidia", "src")):
        args.nvidia_src = os.path.join(HERE, ".nvidia", "src")
    if args.nvidia_src and device != "cuda":
        print(f"bench_training: NVIDIA's row runs on CUDA only (on CPU it runs its slow reference ops); "
              f"left out", file=sys.stderr)
        args.nvidia_src = None
    args.sg2_implementations = sg2_implementations(args.fp16_res, args.nvidia_src)
    peak = common.fp32_peak_flops() if device == "cuda" else None
    tf32_rows = [False, True] if args.tf32_both and device == "cuda" else [bool(args.allow_tf32)]
    stack = common.gpu_stack() if device == "cuda" else ""
    print(f"# bench_training: {common.machine()}{'; ' + stack if stack else ''}; batch {args.batch}; median of "
          f"{args.rounds} x {args.iterations} iterations (each process skips {args.warmup}); sampling batch "
          f"{args.sample_batch}; device {device}"
          + (f"; FP32 peak {peak[0] / 1e12:.1f} TFLOP/s ({peak[1]})" if peak else ""), flush=True)
    for arch in args.archs:
        sg2 = arch == "stylegan2"
        print(f"\n## {arch}: " + ("non-saturating, mixing, R1 every 16, path length every 4 (iterations of each "
                                   "kind timed, weighted 12 / 3 / 1 of 16)" if sg2 else
                                   f"WGAN-GP, mixing, alpha {ALPHA}"), flush=True)
        names = list(args.sg2_implementations if sg2 else IMPLEMENTATIONS)
        rows = []
        for width in args.widths:
            for size in args.sizes:
                for tf32 in tf32_rows:
                    if sg2:
                        with tempfile.TemporaryDirectory() as tmp:
                            r = measure(names, width, size, tf32, args, os.path.join(tmp, "exchange.npz"))
                        gap, keys = sg2_loss_gap(r[names[1]]["losses"], r[names[0]]["losses"])
                        print(f"{width} | {size}: first iteration's losses ({', '.join(keys)}), largest relative "
                              f"difference {gap:.2g}:", {n: r[n]["losses"] for n in names}, flush=True)
                    else:
                        r = measure(names, width, size, tf32, args)
                    jittor = r[names[0]]
                    flops = r[names[1]]["flops"]  # the model's FLOPs, the same for every implementation
                    for name, m in r.items():
                        rate = flops / m["iteration_s"] if flops else None
                        kinds = ([" / ".join(f"{statistics.median(m['kind_s'][k]):.3g}" for k in SG2_KINDS)]
                                 if sg2 else [])
                        rows.append([width, size, "on" if tf32 else "off",
                                     f"{name}, {m['ops']} ops" if m.get("ops") else name,
                                     f"{args.batch / m['iteration_s']:.2f}",
                                     "" if m is jittor else f"**{m['iteration_s'] / jittor['iteration_s']:.2f}**",
                                     *kinds, f"{args.sample_batch / m['sample_s']:.1f}",
                                     "" if m is jittor else f"**{m['sample_s'] / jittor['sample_s']:.2f}**",
                                     f"{m['peak_mb']:.0f} ({m['memory']})",
                                     f"{flops / 1e9:.1f}" if flops else "n/a",
                                     f"{rate / 1e12:.3g}" if rate else "n/a",
                                     f"{100 * rate / peak[0]:.1f}%" if peak and rate else "n/a"])
                        raw = ({k: [round(x, 3) for x in m["kind_s"][k]] for k in SG2_KINDS} if sg2
                               else [round(x, 3) for x in m["all_s"]])
                        print(" | ".join(str(c) for c in rows[-1]), "| raw s/it", raw, flush=True)
        header = ["width", "px", "TF32", "implementation", "train img/s", "Jittor speed-up",
                  *(["s/it plain / path / R1+path"] if sg2 else []), "sample img/s", "Jittor speed-up",
                  "peak MiB", "GFLOP / iteration", "TFLOP/s", "MFU (FP32 peak)"]
        print("\n" + common.table(header, rows), flush=True)


if __name__ == "__main__":
    main()

"""How long the viewer takes per image: a checkpoint of each family at ``--size`` px with train.py's
cpu-demo widths (or ``--widths reference``), loaded and compiled as ``python viewer.py`` does, then
``--renders`` renders of random settings (seed, psi, cutoff, mixing; one image, PNG encoding included):
wall milliseconds (min, median, p90) and the CPU time the process used per render (all threads).

    python bench/bench_viewer.py --size 64
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import common
from jittor_stylegan import runtime
from jittor_stylegan.training import settings


def untrained_generator(arch, size, widths, seed=0):
    """(seeded untrained EMA generator of ``arch`` at ``size`` px, its config); speed does not depend on
    the weights."""
    from jittor_stylegan import families
    from jittor_stylegan.training import optim
    optim.seed_init(seed)
    cfg = dict(arch=arch, max_size=size, channels=3, no_from_rgb_activate=False, **widths)
    cls = families.networks(arch)
    generator = cls.Generator(**cls.network_args(cfg)[cls.KEYS["ema"]])
    optim.materialize(generator)
    return generator, cfg


def save_generator(path, arch, generator, cfg):
    """``generator`` in a checkpoint as training writes its EMA copy (StyleGAN 1: trained up to its size)."""
    from jittor_stylegan.formats import checkpoint
    progress = {"step": int(np.log2(cfg["max_size"])) - 2} if arch == "stylegan1" else {}
    from jittor_stylegan import families
    tensors = {families.networks(arch).KEYS["ema"]: {name: p.numpy() for name, p in generator.named_parameters()}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return checkpoint.save(path, {"arch": arch, "config": cfg, "progress": progress, "run_id": "bench"}, tensors)


def random_query(rng, levels, size):
    lo = int(rng.integers(0, levels))
    mix = f"{lo}-{int(rng.integers(lo, levels))}" if rng.random() < 0.5 else "none"
    return {"size": [str(size)], "seed": [f"{rng.uniform(0, 1000):.2f}"], "psi": [f"{rng.uniform(-1, 2):.2f}"],
            "cutoff": [str(int(rng.integers(0, levels + 1)))], "seed2": [str(int(rng.integers(0, 1000)))], "mix": [mix]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--arch", nargs="+", default=["stylegan1", "stylegan2"], choices=["stylegan1", "stylegan2"])
    parser.add_argument("--widths", choices=["cpu-demo", "reference"], default="cpu-demo")
    parser.add_argument("--renders", type=int, default=40)
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    device = runtime.configure_from_args(args)
    from jittor_stylegan.viewer import server

    print(f"Run: {common.machine()}, device {device}, load average {os.getloadavg()[0]:.1f}, "
          f"{args.size} px, {args.widths} widths, {args.renders} renders of random settings each")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.arch:
            family = settings.FAMILIES[arch]
            names = family.widths
            source = family.presets["cpu-demo"] if args.widths == "cpu-demo" else family.defaults
            path = save_generator(os.path.join(folder, f"{arch}.npz"), arch,
                                  *untrained_generator(arch, args.size, {k: source[k] for k in names}))
            viewer = server.Viewer([path])
            start = time.perf_counter()
            model = viewer.model(path)
            ready = time.perf_counter() - start
            levels = model.samplers[args.size].levels
            rng = np.random.default_rng(0)
            times, cpu = [], []
            for _ in range(args.renders):
                settings = server.Settings.parse(random_query(rng, levels, args.size), model)
                start = time.process_time()
                times.append(model.render(settings)[1])
                cpu.append((time.process_time() - start) * 1000)
            times.sort()
            rows.append([arch, f"{ready:.1f}", f"{min(times):.1f}", f"{statistics.median(times):.1f}",
                         f"{times[int(0.9 * (len(times) - 1))]:.1f}", f"{statistics.median(cpu):.1f}"])
            print(rows[-1], file=sys.stderr, flush=True)
    print(common.table(["arch", "load + compile s (all sizes)", "min ms", "median ms", "p90 ms",
                               "CPU ms (median, all threads)"], rows))


if __name__ == "__main__":
    main()

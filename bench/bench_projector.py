"""Projection quality and speed (projector.py's procedure) on a trained model: ``--n`` images the generator
made (seeds 0 ..., known w, noise: the generator's constant maps) and ``--n`` real Fashion-MNIST training
images (the first ones; Debian's dataset-fashion-mnist), each projected for ``--num-steps`` steps; prints the
PSNR of each projection to its target, the distance at the first and the last step, and the time per step (wall,
and the process's CPU time, which a loaded machine disturbs less).

    python bench/bench_projector.py --path pretrained/fashion-mnist-stylegan2-32px.npz --w_plus
"""
import argparse
import itertools
import statistics
import time

import numpy as np

import common  # noqa: F401  (puts the repository on the path)
from jittor_stylegan import runtime


def psnr(a, b):
    """PSNR (dB) of two images in [-1, 1] as 8-bit pixels."""
    mse = np.mean(((np.asarray(a, np.float64) - b) * 127.5) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


def summary(values):
    return f"mean {statistics.mean(values):.3f}, sd {statistics.pstdev(values):.3f}, min {min(values):.3f}, " \
           f"max {max(values):.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="pretrained/fashion-mnist-stylegan2-32px.npz")
    parser.add_argument("--n", type=int, default=10, help="images of each kind")
    parser.add_argument("--num-steps", type=int, default=1000)
    parser.add_argument("--w_plus", action="store_true")
    parser.add_argument("--vgg16", default=None)
    parser.add_argument("--kinds", default="generated,real")
    runtime.add_device_arguments(parser)
    args = parser.parse_args()
    runtime.configure_from_args(args)
    from PIL import Image
    from jittor_stylegan import data, projector, sampling
    from jittor_stylegan.loading import sampler_for_size
    from jittor_stylegan.metrics import perceptual

    sampler = sampler_for_size(args.path)
    distance = perceptual.distance_for(args.vgg16)
    print(f"{args.path}: {sampler.size} px, {'W+' if args.w_plus else 'W'}, {args.num_steps} steps, distance: "
          f"{distance.description}")
    targets = {}
    if "generated" in args.kinds:
        ws = sampling.seed_ws(sampler, range(args.n))[:, None]
        targets["generated"] = [sampling.render_w(sampler, w[None], sampler.fixed_noise(1))[0] for w in ws]
    if "real" in args.kinds:
        targets["real"] = [projector.target_array(Image.fromarray(a), sampler.size, sampler.channels)[0]
                           for _, a in itertools.islice(data.fashion_mnist_images(), args.n)]
    settings = projector.Settings(num_steps=args.num_steps, w_plus=args.w_plus)
    step_times, cpu_times = [], []
    for kind, images in targets.items():
        psnrs, before, after = [], [], []
        for i, target in enumerate(images):
            stamps = []
            result = projector.project(sampler.generator, sampler.size, target, distance, settings,
                                       lambda step, dist, image: stamps.append((time.perf_counter(),
                                                                                time.process_time())),
                                       sampler.alpha)
            stamps = np.array(stamps[10:])  # after the first steps' compilation
            step_times += list(np.diff(stamps[:, 0]))
            cpu_times += list(np.diff(stamps[:, 1]))
            psnrs.append(psnr(result.image, target))
            before.append(result.distances[0])
            after.append(result.distances[-1])
            print(f"{kind} {i}: PSNR {psnrs[-1]:.2f} dB, distance {before[-1]:.4f} -> {after[-1]:.4f}", flush=True)
        print(f"{kind}: PSNR (dB) {summary(psnrs)}; distance before {summary(before)}; after {summary(after)}")
    print(f"time per step: median {1000 * statistics.median(step_times):.1f} ms, mean "
          f"{1000 * statistics.mean(step_times):.1f} ms; CPU time (all threads) median "
          f"{1000 * statistics.median(cpu_times):.1f} ms ({len(step_times)} steps)")


if __name__ == "__main__":
    main()

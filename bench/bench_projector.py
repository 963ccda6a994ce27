"""Projection quality and speed (projector.py's procedure) on a trained model: ``--n`` images the generator
made (seeds 0 ..., known w, noise: the generator's constant maps) and ``--n`` real Fashion-MNIST training
images (the first ones; Debian's dataset-fashion-mnist), each projected for ``--num-steps`` steps; prints the
PSNR of each projection to its target, the distance at the first and the last step, and the time per step (wall,
and the process's CPU time, which a loaded machine disturbs less).

``--torch``: instead, the time per step of this projector and of the same procedure in PyTorch on rosinality's
StyleGAN 2 holding the same weights (bench/torch_projector.py), one thread each, both with the offline distance
(computed alike: Inception stem + pixel MSE), projecting the seed-0 image for ``--num-steps`` steps in each of
``--rounds`` alternating rounds after an untimed one (Jittor's kernel compilation), which prints both
projections' distances at the first and last step: the same start and random draws, so they agree.

    python bench/bench_projector.py --path pretrained/fashion-mnist-stylegan2-32px.npz --w_plus
    OMP_NUM_THREADS=1 python bench/bench_projector.py --w_plus --torch --num-steps 100 --rounds 5
"""
import argparse
import itertools
import os
import statistics
import time

import numpy as np

import common  # also puts the repository on the path
from jittor_stylegan import runtime

SKIP_STEPS = 10  # untimed first steps of a projection (Jittor compiles its kernels in the first ones)


def psnr(a, b):
    """PSNR (dB) of two images in [-1, 1] as 8-bit pixels."""
    mse = np.mean(((np.asarray(a, np.float64) - b) * 127.5) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


def summary(values):
    return f"mean {statistics.mean(values):.3f}, sd {statistics.pstdev(values):.3f}, min {min(values):.3f}, " \
           f"max {max(values):.3f}"


def timed(run):
    """(what ``run(on_step)`` returns, wall seconds of each step after SKIP_STEPS, CPU seconds of each)."""
    stamps = []
    result = run(lambda step, dist, image: stamps.append((time.perf_counter(), time.process_time())))
    stamps = np.array(stamps[SKIP_STEPS:])
    return result, list(np.diff(stamps[:, 0])), list(np.diff(stamps[:, 1]))


def describe_times(name, wall, cpu):
    """One line: the median wall and CPU time per step."""
    return f"{name}: median {1000 * statistics.median(wall):.1f} ms/step wall, {1000 * statistics.median(cpu):.1f} " \
           f"ms/step CPU time ({len(wall)} steps)"


def compare_torch(sampler, target, distance, settings, rounds):
    """Print the median time per step of this projector and of PyTorch's (bench/torch_projector.py), alternating."""
    import torch
    import torch_projector
    from jittor_stylegan import projector

    torch.set_num_threads(1)
    G, torch_distance = torch_projector.generator(sampler.generator), torch_projector.OfflineDistance(distance)
    w_avg, w_std = projector.w_statistics(sampler.generator)
    runs = {"Jittor (this projector)": lambda on_step: projector.project(
                sampler.generator, sampler.size, target, distance, settings, on_step, sampler.alpha).distances,
            "PyTorch (rosinality's model)": lambda on_step: torch_projector.project(
                G, target, torch_distance, w_avg, w_std, settings, on_step)}
    times = {name: ([], []) for name in runs}
    for r in range(rounds + 1):
        for name in (list(runs) if r % 2 else list(runs)[::-1]):
            distances, wall, cpu = timed(runs[name])
            if r:
                times[name][0].extend(wall)
                times[name][1].extend(cpu)
                print(f"round {r}: {describe_times(name, wall, cpu)}", flush=True)
            else:
                print(f"{name}: distance {distances[0]:.6f} at step 0, {distances[-1]:.6f} at step "
                      f"{len(distances) - 1} (untimed round)", flush=True)
    for name, (wall, cpu) in times.items():
        print(describe_times(name, wall, cpu))
    (jw, jc), (tw, tc) = (map(statistics.median, t) for t in times.values())
    print(f"PyTorch / Jittor time per step: {tw / jw:.2f} (wall), {tc / jc:.2f} (CPU time); load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="pretrained/fashion-mnist-stylegan2-32px.npz")
    parser.add_argument("--n", type=int, default=10, help="images of each kind")
    parser.add_argument("--num-steps", type=int, default=1000)
    parser.add_argument("--w_plus", action="store_true")
    parser.add_argument("--vgg16", default=None)
    parser.add_argument("--kinds", default="generated,real")
    parser.add_argument("--torch", action="store_true", help="time this projector against PyTorch's instead")
    parser.add_argument("--rounds", type=int, default=5, help="--torch: timed rounds of each")
    runtime.add_device_arguments(parser)
    args = parser.parse_args()
    runtime.configure_from_args(args)
    from PIL import Image
    from jittor_stylegan import data, projector, sampling
    from jittor_stylegan.loading import sampler_for_size
    from jittor_stylegan.metrics import perceptual

    sampler = sampler_for_size(args.path)
    distance = perceptual.distance_for(args.vgg16)
    print(f"{common.machine()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"{args.path}: {sampler.size} px, {'W+' if args.w_plus else 'W'}, {args.num_steps} steps, distance: "
          f"{distance.description}")
    settings = projector.Settings(num_steps=args.num_steps, w_plus=args.w_plus)
    if args.torch:
        target = sampling.render_w(sampler, sampling.seed_ws(sampler, [0])[:, None], sampler.fixed_noise(1))[0]
        return compare_torch(sampler, target, distance, settings, args.rounds)
    targets = {}
    if "generated" in args.kinds:
        ws = sampling.seed_ws(sampler, range(args.n))[:, None]
        targets["generated"] = [sampling.render_w(sampler, w[None], sampler.fixed_noise(1))[0] for w in ws]
    if "real" in args.kinds:
        targets["real"] = [projector.target_array(Image.fromarray(a), sampler.size, sampler.channels)[0]
                           for _, a in itertools.islice(data.fashion_mnist_images(), args.n)]
    step_times, cpu_times = [], []
    for kind, images in targets.items():
        psnrs, before, after = [], [], []
        for i, target in enumerate(images):
            result, wall, cpu = timed(lambda on_step: projector.project(
                sampler.generator, sampler.size, target, distance, settings, on_step, sampler.alpha))
            step_times += wall
            cpu_times += cpu
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

"""Sample a trained generator: a grid, style-mixing grids, and a latent interpolation.

    python generate.py --size 64 --path runs/emoji/checkpoint/001000.npz
"""
import argparse
import os
import sys


def main(argv=None):
    from jittor_stylegan import runtime

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", required=True,
                        help="checkpoint (this project's .npz, or a rosinality PyTorch .model / .pt)")
    parser.add_argument("--size", type=int, default=1024, help="image size (power of two)")
    parser.add_argument("--n_row", type=int, default=3)
    parser.add_argument("--n_col", type=int, default=5)
    parser.add_argument("--truncation", type=float, default=0.7, help="style weight; 1 = none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="generated", help="output folder")
    parser.add_argument("--interpolate", type=int, nargs="*", default=None, metavar="SEED",
                        help="seeds to interpolate between (default: 4 seeds from --seed)")
    parser.add_argument("--frames", type=int, default=16, help="interpolation frames per pair of seeds")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    runtime.configure_from_args(args)
    import numpy as np
    from jittor_stylegan import sampling
    from jittor_stylegan.images import save_grid
    from jittor_stylegan.training.checkpoint import CheckpointError
    from jittor_stylegan.training.families import sampler_for_size

    try:
        sampler = sampler_for_size(args.path, args.size)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"generate: {e}")
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    mean = sampler.mean_latent(seed=args.seed) if args.truncation < 1 else None

    n = args.n_row * args.n_col
    images = sampler.images(rng.standard_normal((n, sampler.latent_dim), dtype=np.float32), truncation=args.truncation,
                            mean=mean, rng=rng)
    written = [save_grid(images, os.path.join(args.out, "sample.png"), args.n_col)]
    for name, mixing_range in sampling.MIXING_RANGES.items():
        if mixing_range[0] >= sampler.levels:
            continue
        grid = sampling.style_mixing_grid(sampler, args.n_col, args.n_row, mixing_range, rng, mean, args.truncation)
        written.append(save_grid(grid, os.path.join(args.out, f"sample_mixing_{name}.png"), args.n_col + 1))
    seeds = args.interpolate or [args.seed + i for i in range(4)]
    if len(seeds) >= 2:
        frames = sampling.interpolation(sampler, seeds, args.frames, mean, args.truncation)
        written.append(save_grid(frames[::max(1, len(frames) // 8)], os.path.join(args.out, "interpolation.png"),
                                 n_col=9))
        written.append(sampling.interpolation_mp4(frames, os.path.join(args.out, "interpolation.mp4")))
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()

"""Sample a trained generator: a grid, style-mixing grids, the style-weight sweep and a latent interpolation.

    python generate.py --size 64                                  # the newest checkpoint under runs/
    python generate.py --size 64 --path runs/emoji/checkpoint/001000.npz

Writes (in --out): sample.png (n_row x n_col), sample_mixing_{coarse,middle,fine}.png, as StyleGanJittor's
generate.py: sample_mixing/sample_mixing_<j>.png (--n_mixing grids, coarse styles from different random
sources) and sample_weight_mixing/sample_weight_mixing_<j>.png (one mixing grid at style weights 1/40 ...
39/40, also as sample_weight_mixing.mp4), and interpolation.png / .mp4.
"""
import argparse
import os
import sys

WEIGHT_STEPS = 40  # style weights j / 40, j = 1 ... 39 (StyleGanJittor's sweep)


def main(argv=None):
    from jittor_stylegan import runtime, runs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", help="checkpoint (this project's .npz, a rosinality PyTorch .model / .pt); "
                                       "default: the newest checkpoint of the most recently written run in runs/")
    parser.add_argument("--size", type=int, default=None,
                        help="image size (power of two; default: the largest the checkpoint was trained to)")
    parser.add_argument("--n_row", type=int, default=3)
    parser.add_argument("--n_col", type=int, default=5)
    parser.add_argument("--truncation", type=float, default=0.7, help="style weight; 1 = none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="generated", help="output folder")
    parser.add_argument("--n_mixing", type=int, default=40, help="style-mixing grids from different random sources")
    parser.add_argument("--interpolate", type=int, nargs="*", default=None, metavar="SEED",
                        help="seeds to interpolate between (default: 4 seeds from --seed)")
    parser.add_argument("--frames", type=int, default=16, help="interpolation frames per pair of seeds")
    parser.add_argument("--raw", action="store_true", help="grids at the native size (default: tiles under 128 px "
                                                           "enlarged)")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    if args.path is None:
        try:
            args.path = runs.newest_checkpoint()
        except runs.NoRunError as e:
            sys.exit(f"generate: {e}")
        print(f"generate: using {args.path} (the newest checkpoint of the most recently written run)")
    runtime.configure_from_args(args)
    import numpy as np
    from jittor_stylegan import sampling
    from jittor_stylegan.images import grid, rgb, save_array
    from jittor_stylegan.loading import CheckpointError, sampler_for_size
    from jittor_stylegan.video import write_mp4

    try:
        sampler = sampler_for_size(args.path, args.size)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"generate: {e}")
    rng = np.random.default_rng(args.seed)
    mean = sampler.mean_latent(seed=args.seed)  # the truncation centre (the weight sweep needs it too)

    def save(images, name, n_col):
        path = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return save_array(grid(images, n_col, raw=args.raw), path)

    n = args.n_row * args.n_col
    images = sampler.images(rng.standard_normal((n, sampler.latent_dim), dtype=np.float32), truncation=args.truncation,
                            mean=mean, rng=rng)
    written = [save(images, "sample.png", args.n_col)]
    for name, mixing_range in sampling.MIXING_RANGES.items():
        if mixing_range[0] >= sampler.levels:
            continue
        cells = sampling.style_mixing_grid(sampler, sampling.mixing_inputs(sampler, args.n_col, args.n_row, rng),
                                           mixing_range, mean, args.truncation)
        written.append(save(cells, f"sample_mixing_{name}.png", args.n_col + 1))
    coarse = sampling.MIXING_RANGES["coarse"]
    for j in range(args.n_mixing):
        cells = sampling.style_mixing_grid(sampler, sampling.mixing_inputs(sampler, args.n_col, args.n_row, rng),
                                           coarse, mean, args.truncation)
        path = save(cells, os.path.join("sample_mixing", f"sample_mixing_{j}.png"), args.n_col + 1)
    if args.n_mixing:
        written.append(os.path.join(os.path.dirname(path), f"sample_mixing_<0..{args.n_mixing - 1}>.png"))
    inputs = sampling.mixing_inputs(sampler, args.n_col, args.n_row, rng)
    frames = []
    os.makedirs(os.path.join(args.out, "sample_weight_mixing"), exist_ok=True)
    for j in range(1, WEIGHT_STEPS):
        frames.append(grid(sampling.style_mixing_grid(sampler, inputs, coarse, mean, j / WEIGHT_STEPS),
                           args.n_col + 1, raw=args.raw))
        path = save_array(frames[-1], os.path.join(args.out, "sample_weight_mixing", f"sample_weight_mixing_{j}.png"))
    frames = [rgb(f) for f in frames]
    written.append(os.path.join(os.path.dirname(path), f"sample_weight_mixing_<1..{WEIGHT_STEPS - 1}>.png"))
    written.append(write_mp4(frames, os.path.join(args.out, "sample_weight_mixing.mp4"), fps=8))
    seeds = args.interpolate or [args.seed + i for i in range(4)]
    if len(seeds) >= 2:
        frames = sampling.interpolation(sampler, seeds, args.frames, mean, args.truncation)
        written.append(save(frames[::max(1, len(frames) // 8)], "interpolation.png", 9))
        written.append(sampling.interpolation_mp4(frames, os.path.join(args.out, "interpolation.mp4")))
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()

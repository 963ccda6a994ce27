"""Sample a trained generator: a grid, style-mixing grids, the style-weight sweep and a latent interpolation.

    python generate.py --size 64                                  # the newest checkpoint under runs/
    python generate.py --size 64 --path runs/emoji/checkpoint/001000.npz
    python generate.py --path network-snapshot-001000.pkl --seeds 0-7 --trunc 1 --noise-mode const --outdir out
    python generate.py --path runs/pets/checkpoint/000500.npz --class dog   # a conditional network: a class

Writes (in --out): sample.png (n_row x n_col), sample_mixing_{coarse,middle,fine}.png, as StyleGanJittor's
generate.py: sample_mixing/sample_mixing_<j>.png (--n_mixing grids, coarse styles from different random
sources) and sample_weight_mixing/sample_weight_mixing_<j>.png (one mixing grid at style weights 1/40 ...
39/40, also as sample_weight_mixing.mp4), and interpolation.png / .mp4. With --seeds, as NVIDIA's
generate.py: only seed<NNNN>.png per seed, z = np.random.RandomState(seed).randn(1, z_dim) (the same images as
NVIDIA's code for its pickles, whose truncation centre is their w_avg).
Editing (README "Editing real images"): --projected-w (projector.py's projected_w.npz, as NVIDIA's option) writes
proj00.png; with --seeds also projected_mixing_{coarse,middle,fine}.png (the projection given each seed's styles at
those levels); --factor (closed_form_factorization.py's factors.npz) with --index / --degree writes factor_<index>.png:
a row per latent (the projection, then the seeds), columns along the direction from -degree to +degree (--n_col).
"""
import argparse
import os
import sys

WEIGHT_STEPS = 40  # style weights j / 40, j = 1 ... 39 (StyleGanJittor's sweep)


def seed_list(text):
    """NVIDIA's seed syntax: "0-7" (inclusive), "1,5,9" or a mix."""
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a seed list: {text!r} (e.g. 0-7 or 1,5,9)") from None
    return seeds


def seed_images(sampler, seeds, truncation, noise_mode, out):
    """seed<NNNN>.png per seed as NVIDIA's generate.py: z = RandomState(seed).randn(1, z_dim), truncation
    towards the generator's centre; returns the paths written."""
    import numpy as np
    from jittor_stylegan.images import save_array, to_uint8

    os.makedirs(out, exist_ok=True)
    mean = sampler.mean_latent() if truncation != 1 else None
    written = []
    for seed in seeds:
        z = np.random.RandomState(seed).randn(1, sampler.latent_dim).astype(np.float32)
        noise = sampler.fixed_noise(1) if noise_mode == "const" else sampler.noise(1, np.random.default_rng(seed))
        if noise_mode == "none":
            noise = [np.zeros_like(a) for a in noise]
        image = sampler.images(z, noise, truncation, mean)
        written.append(save_array(to_uint8(image)[0], os.path.join(out, f"seed{seed:04d}.png")))
    return written


def edit_images(sampler, args):
    """The --projected-w / --factor products; returns the paths written."""
    import numpy as np
    from jittor_stylegan import projector, sampling, sefa
    from jittor_stylegan.images import grid, save_array, to_uint8

    levels = sampler.levels
    rows, noises = [], []  # per row: w (1, levels, D) and its noise maps
    if args.projected_w:
        w, noise = projector.load_w(args.projected_w, sampler.latent_dim, levels, sampler.generator.noise_sizes(
            sampler.size))
        rows.append(np.broadcast_to(w[None], (1, levels, w.shape[1])))
        noises.append(noise if noise is not None else sampler.fixed_noise(1))
    seeds = args.seeds or ([] if args.projected_w else [args.seed])
    seed_ws = sampling.seed_ws(sampler, seeds, 1.0 if args.truncation is None else args.truncation)
    for w in seed_ws:
        rows.append(np.broadcast_to(w[None, None], (1, levels, w.shape[0])))
        noises.append(sampler.fixed_noise(1))
    os.makedirs(args.out, exist_ok=True)
    written = []
    if args.factor:
        eigvec = sefa.load_factors(args.factor, sampler.latent_dim)
        if not 0 <= args.index < eigvec.shape[1]:
            raise ValueError(f"--index {args.index} is not one of the {eigvec.shape[1]} directions of {args.factor}")
        degrees = np.linspace(-args.degree, args.degree, args.n_col, dtype=np.float32)
        shifts = degrees[:, None, None] * eigvec[:, args.index][None, None]
        cells = np.concatenate([sampling.render_w(sampler, w + shifts, noise) for w, noise in zip(rows, noises)])
        written.append(save_array(grid(cells, args.n_col, raw=args.raw),
                                  os.path.join(args.out, f"factor_{args.index}.png")))
        return written
    projected = sampling.render_w(sampler, rows[0], noises[0])
    written.append(save_array(to_uint8(projected)[0], os.path.join(args.out, "proj00.png")))
    if args.seeds:
        seed_images = np.concatenate([sampling.render_w(sampler, w, n) for w, n in zip(rows[1:], noises[1:])])
        for name, (lo, hi) in sampling.MIXING_RANGES.items():
            if lo >= levels:
                continue
            mixed = np.array(np.broadcast_to(rows[0], (len(seeds),) + rows[0].shape[1:]))
            mixed[:, lo:None if hi is None else hi + 1] = seed_ws[:, None]
            cells = np.concatenate([projected, seed_images, projected, sampling.render_w(sampler, mixed, noises[0])])
            written.append(save_array(grid(cells, len(seeds) + 1, raw=args.raw),
                                      os.path.join(args.out, f"projected_mixing_{name}.png")))
    return written


def main(argv=None):
    from jittor_stylegan import runtime, runs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", "--network",
                        help=f"checkpoint: {runs.CHECKPOINT_FILES}; default: the newest checkpoint of the most "
                             "recently written run in runs/")
    parser.add_argument("--size", type=int, default=None,
                        help="image size (power of two; default: the largest the checkpoint was trained to)")
    parser.add_argument("--n_row", type=int, default=3)
    parser.add_argument("--n_col", type=int, default=5)
    parser.add_argument("--truncation", "--trunc", type=float, default=None,
                        help="style weight; 1 = none (default 0.7, with --seeds 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", "--outdir", default="generated", help="output folder")
    parser.add_argument("--seeds", type=seed_list, default=None,
                        help="NVIDIA's generate.py: one image per seed, e.g. 0-7 or 1,5,9")
    parser.add_argument("--noise-mode", "--noise_mode", choices=("const", "random", "none"), default="const",
                        help="noise with --seeds: the generator's constant maps (those its file stores, else one "
                             "fixed draw, the same in every run), seeded random maps, or none")
    parser.add_argument("--class", dest="class_label", metavar="CLASS",
                        help="a conditional network's class: its index (NVIDIA's --class) or its name")
    parser.add_argument("--n_mixing", type=int, default=40, help="style-mixing grids from different random sources")
    parser.add_argument("--interpolate", type=int, nargs="*", default=None, metavar="SEED",
                        help="seeds to interpolate between (default: 4 seeds from --seed)")
    parser.add_argument("--frames", type=int, default=16, help="interpolation frames per pair of seeds")
    parser.add_argument("--raw", action="store_true", help="grids at the native size (default: tiles under 128 px "
                                                           "enlarged)")
    parser.add_argument("--projected-w", "--projected_w", default=None, metavar="NPZ",
                        help="render this projected latent (projector.py's projected_w.npz)")
    parser.add_argument("--factor", default=None, metavar="NPZ",
                        help="SeFa directions (closed_form_factorization.py's factors.npz): the edit grid")
    parser.add_argument("--index", type=int, default=0, help="with --factor: which direction")
    parser.add_argument("--degree", type=float, default=5.0, help="with --factor: the largest step along it")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    args.path = runs.path_or_newest(args.path, "generate")
    runtime.configure_from_args(args)
    import numpy as np
    from jittor_stylegan import sampling
    from jittor_stylegan.images import grid, rgb, save_array
    from jittor_stylegan.loading import CheckpointError, sampler_for_size
    from jittor_stylegan.video import write_mp4

    try:
        sampler = sampler_for_size(args.path, args.size)
        sampler.select_class(args.class_label)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"generate: {e}")
    if args.projected_w or args.factor:
        try:
            written = edit_images(sampler, args)
        except ValueError as e:
            sys.exit(f"generate: {e}")
        print("wrote " + ", ".join(written))
        return
    if args.seeds is not None:
        try:
            written = seed_images(sampler, args.seeds, 1.0 if args.truncation is None else args.truncation,
                                  args.noise_mode, args.out)
        except ValueError as e:
            sys.exit(f"generate: {e}")
        print(f"wrote {len(written)} images: {written[0]} ... {written[-1]}")
        return
    if args.truncation is None:
        args.truncation = 0.7
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

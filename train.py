"""Train a progressive StyleGAN on a prepare_data.py LMDB.

    python train.py --mixing mdb/emoji                       # reference settings (GPU)
    python train.py --mixing mdb/emoji --preset cpu-demo     # small model that learns on a CPU
    python train.py --ckpt runs/emoji/checkpoint/001000.model # resume exactly
"""
import argparse
import os
import sys

PRESETS = {
    # about 10 minutes on 2 CPU cores: 8 -> 32 px (2,000 iterations at 32 px), narrow networks;
    # an EMA over ~100 iterations, since 0.999 would leave a short run's samples dominated by
    # the initial weights
    "cpu-demo": dict(init_size=8, max_size=32, phase=4000, batch_default=16, code_size=64, n_mlp=4,
                     channel_base=512, max_channels=64, lr=0.002, iterations=2500, sample_every=100,
                     ckpt_every=200, ema_decay=0.99),
}
DEFAULTS = dict(init_size=8, max_size=1024, phase=600_000, batch_default=32, code_size=512, n_mlp=8,
                channel_base=16384, max_channels=512, lr=0.001, iterations=3_000_000, sample_every=100,
                ckpt_every=10_000, ema_decay=0.999)


def parse(argv=None):
    from jittor_stylegan.runtime import add_device_arguments

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="LMDB made by prepare_data.py")
    parser.add_argument("--ckpt", help="resume from this checkpoint (its settings are used)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named group of the settings below")
    parser.add_argument("--run_dir", help="output folder (default runs/<dataset name>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixing", action="store_true", help="style-mixing regularisation (p=0.9)")
    parser.add_argument("--loss", choices=["wgan-gp", "r1"], default="wgan-gp")
    parser.add_argument("--sched", action="store_true", help="per-resolution batch and lr schedule")
    parser.add_argument("--no_from_rgb_activate", action="store_true")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="image channels (default: the data's)")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name}", type=type(value), default=None, help=f"default {value}")
    parser.add_argument("--sample_rows", type=int, default=5)
    parser.add_argument("--sample_cols", type=int, default=8)
    parser.add_argument("--keep", type=int, default=5, help="checkpoints kept")
    parser.add_argument("--metrics", help="comma-separated metrics logged to log.csv: fid, kid, swd")
    parser.add_argument("--metrics_every", type=int, default=5000, help="iterations between metric evaluations")
    parser.add_argument("--metrics_images", type=int, default=2000, help="images per set for the metrics")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_device_arguments(parser)
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse(argv)
    from jittor_stylegan import runtime
    runtime.configure_from_args(args)
    from jittor_stylegan.data import DataError, MultiResolutionDataset
    from jittor_stylegan.training import Trainer, TrainingStopped, load_checkpoint

    resume = None
    if args.ckpt:
        resume = load_checkpoint(args.ckpt)
        cfg = dict(resume["config"])
        if args.iterations is not None:
            cfg["iterations"] = args.iterations
    else:
        if args.path is None:
            parser.error("give an LMDB path, or --ckpt to resume")
        cfg = dict(DEFAULTS, **PRESETS.get(args.preset, {}))
        cfg.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
        cfg.update(path=args.path, seed=args.seed, mixing=args.mixing, loss=args.loss, sched=args.sched,
                   no_from_rgb_activate=args.no_from_rgb_activate, sample_rows=args.sample_rows,
                   sample_cols=args.sample_cols, keep=args.keep, metrics=args.metrics,
                   metrics_every=args.metrics_every, metrics_images=args.metrics_images,
                   run_dir=args.run_dir or os.path.join("runs", os.path.basename(os.path.normpath(args.path))))
        try:
            cfg["channels"] = args.channels or MultiResolutionDataset(args.path).channels()
        except DataError as e:
            sys.exit(f"train: {e}")
    try:
        trainer = Trainer(cfg, resume)
        progress = trainer.run(progress_bar=not args.no_progress)
    except (DataError, ValueError, TrainingStopped) as e:
        sys.exit(f"train: {e}")
    print(f"done: iteration {progress['iteration']}, {trainer.resolution}px, "
          f"{progress['images_seen']} images seen; outputs in {cfg['run_dir']}")


if __name__ == "__main__":
    main()

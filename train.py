"""Train a StyleGAN on a prepare_data.py LMDB: progressive StyleGAN 1 (default) or StyleGAN 2.

    python train.py --mixing mdb/emoji                                   # StyleGAN 1, reference settings (GPU)
    python train.py --mixing mdb/emoji --preset cpu-demo                 # small model that learns on a CPU
    python train.py --arch stylegan2 --mixing mdb/emoji --max_size 256   # StyleGAN 2, rosinality's settings
    python train.py --arch stylegan2 --mixing mdb/emoji --preset cpu-demo
    python train.py --ckpt runs/emoji/checkpoint/001000.npz              # resume exactly
    python train.py mdb/emoji --sched --init_size 32 --ckpt checkpoint/train_step-3.model --mixing
                                        # resume rosinality's (or StyleGanJittor's) StyleGAN 1 run as a new run
"""
import argparse
import os
import signal
import sys

ARCHS = ("stylegan1", "stylegan2")
# Settings per architecture; every one is also a --option.
DEFAULTS = {
    "stylegan1": dict(init_size=8, max_size=1024, phase=600_000, batch_default=32, code_size=512, n_mlp=8,
                      channel_base=16384, max_channels=512, lr=0.001, iterations=3_000_000, sample_every=100,
                      ckpt_every=10_000, ema_decay=0.999, loss="wgan-gp"),
    # rosinality's stylegan2-pytorch train.py
    "stylegan2": dict(max_size=256, batch_default=16, code_size=512, n_mlp=8, channel_multiplier=2,
                      max_channels=512, lr=0.002, iterations=800_000, sample_every=100, ckpt_every=10_000,
                      ema_decay=0.5 ** (32 / (10 * 1000)), loss="nonsaturating", r1=10.0, d_reg_every=16,
                      path_regularize=2.0, path_batch_shrink=2, g_reg_every=4, grad_accum=1),
}
PRESETS = {
    "stylegan1": {
        # about 10 minutes on 2 CPU cores: 8 -> 32 px (2,000 iterations at 32 px), narrow networks;
        # an EMA over ~100 iterations, since 0.999 would leave a short run's samples dominated by
        # the initial weights
        "cpu-demo": dict(init_size=8, max_size=32, phase=4000, batch_default=16, code_size=64, n_mlp=4,
                         channel_base=512, max_channels=64, lr=0.002, iterations=2500, sample_every=100,
                         ckpt_every=200, ema_decay=0.99),
    },
    "stylegan2": {
        # about 10 minutes on 2 CPU cores at 32 px: narrow networks, a short EMA
        "cpu-demo": dict(max_size=32, batch_default=16, code_size=64, n_mlp=4, channel_multiplier=1,
                         max_channels=64, iterations=2000, sample_every=100, ckpt_every=250, ema_decay=0.99),
    },
}
SETTINGS = {name for defaults in DEFAULTS.values() for name in defaults}
LOSSES = {"stylegan1": ("wgan-gp", "r1"), "stylegan2": ("nonsaturating", "wgan-gp")}
# What --ckpt may change in a resumed run (everything else comes from the checkpoint).
RESUME_OVERRIDES = ("iterations", "keep", "sample_every", "ckpt_every")


def parse(argv=None):
    from jittor_stylegan.runtime import add_device_arguments

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="LMDB made by prepare_data.py")
    parser.add_argument("--arch", choices=ARCHS, default="stylegan1")
    parser.add_argument("--ckpt", help="resume from this checkpoint (its settings are used); or continue "
                                       "rosinality's / StyleGanJittor's training file in a new run (settings "
                                       "from the command line)")
    parser.add_argument("--preset", choices=["cpu-demo"], help="a named group of the settings below, per --arch")
    parser.add_argument("--run_dir", help="output folder, which must not hold another run (default runs/<dataset "
                                          "name>, or runs/<dataset name>-N if that holds one; on resume the "
                                          "checkpoint's run folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixing", action="store_true", help="style-mixing regularisation (p=0.9)")
    parser.add_argument("--sched", action="store_true", help="StyleGAN 1: per-resolution batch and lr schedule")
    parser.add_argument("--no_from_rgb_activate", action="store_true", help="StyleGAN 1")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="image channels (default: the data's)")
    names = {}
    for arch, defaults in DEFAULTS.items():
        for name, value in defaults.items():
            names.setdefault(name, []).append(f"{arch} {value:.6g}" if isinstance(value, float) else f"{arch} {value}")
    types = {name: type(value) for defaults in DEFAULTS.values() for name, value in defaults.items()}
    for name, helps in names.items():
        choices = sorted({v for losses in LOSSES.values() for v in losses}) if name == "loss" else None
        parser.add_argument(f"--{name}", type=types[name], default=None, choices=choices,
                            help="default: " + ", ".join(helps))
    parser.add_argument("--sample_rows", type=int, default=5)
    parser.add_argument("--sample_cols", type=int, default=8)
    parser.add_argument("--keep", type=int, default=None, help="checkpoints of this run kept (default 5)")
    parser.add_argument("--metrics", help="comma-separated metrics logged to log.csv: fid, kid, swd")
    parser.add_argument("--metrics_every", type=int, default=5000, help="iterations between metric evaluations")
    parser.add_argument("--metrics_images", type=int, default=2000, help="images per set for the metrics")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_device_arguments(parser)
    return parser, parser.parse_args(argv)


def new_config(args):
    """The settings of a new run: the arch's defaults, its preset, then the options given."""
    defaults = DEFAULTS[args.arch]
    given = {k: v for k, v in vars(args).items() if k in SETTINGS and v is not None}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        sys.exit(f"train: --{unknown[0]} is not a {args.arch} setting")
    cfg = {**defaults, **PRESETS[args.arch].get(args.preset, {}), **given}
    if cfg["loss"] not in LOSSES[args.arch]:
        sys.exit(f"train: --loss {cfg['loss']} is not a {args.arch} loss; choose from {LOSSES[args.arch]}")
    cfg.update(arch=args.arch, path=args.path, seed=args.seed, mixing=args.mixing, sched=args.sched,
               no_from_rgb_activate=args.no_from_rgb_activate, sample_rows=args.sample_rows,
               sample_cols=args.sample_cols, keep=args.keep or 5, metrics=args.metrics,
               metrics_every=args.metrics_every, metrics_images=args.metrics_images)
    return cfg


def main(argv=None):
    parser, args = parse(argv)
    from jittor_stylegan import runtime
    runtime.configure_from_args(args)
    from jittor_stylegan import distributed
    from jittor_stylegan.data import DataError, MultiResolutionDataset
    from jittor_stylegan.training import checkpoint, foreign, run_files
    from jittor_stylegan.training.loop import Trainer, TrainingInterrupted, TrainingStopped

    resume = None
    try:
        # rosinality's or StyleGanJittor's training file: a new run, its settings from the command line
        foreign_file = foreign.read(args.ckpt) if args.ckpt else None
        if foreign_file:
            args.arch = foreign_file.arch
        if args.ckpt and not foreign_file:
            resume = checkpoint.load(args.ckpt)
            cfg = dict(resume[0]["config"])
            cfg.update({k: getattr(args, k) for k in RESUME_OVERRIDES if getattr(args, k) is not None})
            cfg["run_dir"] = run_files.resume_run_dir(args.ckpt, resume[0]["run_id"], args.run_dir)
        else:
            if args.path is None:
                parser.error(f"give the LMDB path to train {args.ckpt} on" if foreign_file
                             else "give an LMDB path, or --ckpt to resume")
            cfg = new_config(args)
            cfg["channels"] = args.channels or MultiResolutionDataset(args.path).channels()
            if foreign_file:
                cfg, resume = foreign_file.resume(cfg, {k: v for k, v in vars(args).items() if v is not None})
            cfg["run_dir"], note = run_files.new_run_dir(args.run_dir, args.path)
            if note and distributed.is_main():
                print(f"train: {note}")
        distributed.barrier()  # under MPI: every process has chosen the run folder before rank 0 writes to it
        trainer = Trainer(cfg, resume)
        progress = trainer.run(progress_bar=not args.no_progress)
    except (DataError, ValueError, TrainingStopped, checkpoint.CheckpointError, run_files.RunFolderError) as e:
        sys.exit(f"train: {e}")
    except TrainingInterrupted as e:  # SIGINT / SIGTERM: stopped at an iteration boundary, checkpointed
        if distributed.is_main():
            print(f"train: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:  # a second signal: stopped at once
        if distributed.is_main():
            print("train: stopped at once; the last checkpoint is kept (resume from it with --ckpt)", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)
    if distributed.is_main():
        print(f"done: iteration {progress['iteration']}, {trainer.resolution}px, "
              f"{progress['images_seen']} images seen; outputs in {cfg['run_dir']}")
    return trainer


if __name__ == "__main__":
    try:
        main()
    except SystemExit as stop:
        if stop.code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            # Stopped by a signal, everything saved: skip the interpreter's teardown, where Jittor's compile
            # pool, whose workers a terminal's Ctrl-C also hit, can hang or report a bogus out-of-memory.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stop.code)
        raise

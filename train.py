"""Train a StyleGAN on a prepare_data.py LMDB, or straight from a folder / .zip of images or a CIFAR-10
archive (its LMDB built once into mdb/cache/): progressive StyleGAN 1 (default) or StyleGAN 2.

    python train.py --mixing mdb/emoji                                   # StyleGAN 1, reference settings (GPU)
    python train.py --mixing mdb/emoji --preset cpu-demo                 # small model that learns on a CPU
    python train.py --arch stylegan2 --mixing mdb/emoji                  # StyleGAN 2, rosinality's settings
    python train.py --arch stylegan2 --mixing mdb/emoji --preset cpu-demo
    python train.py --ckpt runs/emoji/checkpoint/001000.npz              # resume exactly
    python train.py mdb/faces --arch stylegan2 --resume ffhq.pkl --freezed 4  # fine-tune NVIDIA's network
    python train.py --mixing mdb/emoji --sched 8:32,16:32,32:16 --phase 8:200000,16:300000/600000
    python train.py --mixing path/to/images                              # or images.zip, cifar-10-python.tar.gz
    python train.py --arch stylegan2 --cond 1 path/to/class_folders      # class-conditional (NVIDIA's --cond)
    python train.py mdb/emoji --sched --init_size 32 --ckpt checkpoint/train_step-3.model --mixing
                                        # resume rosinality's (or StyleGanJittor's) StyleGAN 1 run as a new run

The largest resolution defaults to the largest one in the LMDB. Options of other StyleGANs are
accepted under their names where they mean the same (--batch_size, --latent_dim, --save_every, ...).
"""
import argparse
import os
import signal
import sys

import numpy as np

from jittor_stylegan.training.settings import (ALIASES, ARCHS, CHOICES, FAMILIES, FROM_DATA, HELP, TYPES, aug_default,
                                              parse_table, setting_names)

# What --ckpt may change in a resumed run (everything else comes from the checkpoint).
RESUME_OVERRIDES = ("iterations", "keep", "sample_every", "ckpt_every", "minutes", "ckpt_minutes")


def parse(argv=None):
    from jittor_stylegan.data import DATA_CACHE
    from jittor_stylegan.runtime import add_device_arguments

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="LMDB made by prepare_data.py, or a folder (searched recursively) "
                        "or .zip of images, or CIFAR-10's cifar-10-python.tar.gz (train split): its LMDB is built "
                        "once at sizes 4..--max_size (default: the largest power of two within the smallest image, "
                        "at most 1024) into --data_cache and reused while the files are unchanged")
    parser.add_argument("--data", help="the same as PATH (NVIDIA's name)")
    parser.add_argument("--data_cache", default=DATA_CACHE,
                        help=f"where LMDBs built from image folders / archives are kept (default {DATA_CACHE})")
    parser.add_argument("--arch", choices=ARCHS, default="stylegan1")
    parser.add_argument("--ckpt", help="resume from this checkpoint (its settings are used); or continue "
                                       "rosinality's / StyleGanJittor's training file in a new run (settings "
                                       "from the command line)")
    parser.add_argument("--resume", metavar="PKL", help="StyleGAN 2: start a new run from the G, D and G_ema of "
                                                        "an NVIDIA network pickle (their resolution, latent size, "
                                                        "mapping depth and widths); --freezed K freezes D's first "
                                                        "K layers, as NVIDIA's")
    parser.add_argument("--preset", choices=sorted({name for f in FAMILIES.values() for name in f.presets}),
                        help="a named group of the settings below, per --arch")
    parser.add_argument("--run_dir", "--outdir", help="output folder, which must not hold another run (default runs/<dataset "
                                          "name>, or runs/<dataset name>-N if that holds one; on resume the "
                                          "checkpoint's run folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixing", action="store_true", help="style-mixing regularisation (p=0.9)")
    parser.add_argument("--sched", nargs="?", const=True, default=False, metavar="RES:BATCH,...",
                        help="StyleGAN 1: per-resolution batches; alone: rosinality's batch and lr table "
                             "(4:512,8:256,16:128,32:64,64:32,128:32,256:32; lr 0.0015 at 128 px, 0.002 at 256, "
                             "0.003 above), with a table (e.g. 8:32,16:32,32:16,64:8): those batches "
                             "(--batch_default elsewhere) at a constant --lr")
    parser.add_argument("--no_from_rgb_activate", action="store_true", help="StyleGAN 1")
    parser.add_argument("--cond", type=int, choices=[0, 1], default=0,
                        help="StyleGAN 2: 1 trains class-conditional G and D (NVIDIA's) on the data's labels: a "
                             "dataset.json, one sub-folder per class, CIFAR-10 or --builtin fashion-mnist")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="image channels: 1 = grey, 3 = RGB (default: "
                        "the LMDB's; from images, 1 when every image is grey, else 3)")
    names = {}
    for arch, family in FAMILIES.items():
        for name, value in family.defaults.items():
            names.setdefault(name, []).append(f"{arch} {value:.6g}" if isinstance(value, float) else f"{arch} {value}")
    types = {name: type(value) for family in FAMILIES.values() for name, value in family.defaults.items()}
    types.update(TYPES, phase=phase_value)
    for name, helps in names.items():
        choices = sorted({v for family in FAMILIES.values() for v in family.losses}) if name == "loss" else None
        choices = CHOICES.get(name, choices)
        helps = [FROM_DATA[name]] if name in FROM_DATA else helps
        if name == "phase":
            helps.append("images of fade-in and as many of stabilisation per resolution; a table RES:IMAGES "
                         "or RES:FADE/STABILISE (e.g. 8:200000,16:300000/600000) sets them per resolution, "
                         "the first number elsewhere")
        parser.add_argument(f"--{name}", *(f"--{a}" for a in ALIASES.get(name, ())), dest=name, type=types[name],
                            default=None, choices=choices,
                            help=(HELP[name] + "; " if name in HELP else "") + "default: " + ", ".join(helps))
    parser.add_argument("--sample_rows", type=int, default=5)
    parser.add_argument("--sample_cols", type=int, default=8)
    parser.add_argument("--keep", type=int, default=None, help="checkpoints of this run kept (default 5)")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes of training (counted over "
                        "resumes), with a checkpoint; e.g. a cluster's time limit or a benchmark's budget")
    parser.add_argument("--ckpt_minutes", type=float, help="also write a checkpoint at every multiple of this "
                        "many minutes of training (wall clock, counted over resumes)")
    parser.add_argument("--metrics", help="comma-separated metrics logged to log.csv: fid, kid, swd (--metrics_images "
                        "real and generated images); NVIDIA's fid50k_full, kid50k_full, pr50k3_full, ppl2_wend (their "
                        "counts, as calc_metrics.py; pr50k3_full and ppl2_wend on --vgg16, else Inception features)")
    parser.add_argument("--vgg16", metavar="PATH", help="NVIDIA's vgg16.pt for --metrics pr50k3_full and ppl2_wend "
                        "(as calc_metrics.py --vgg16)")
    parser.add_argument("--metrics_every", type=int, default=5000, help="iterations between metric evaluations")
    parser.add_argument("--metrics_images", type=int, default=2000, help="images per set for the metrics")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (needs the wandb package; "
                        "WANDB_MODE=offline logs without a network); log.csv, stats.jsonl and, with tensorboardX "
                        "installed, TensorBoard events are always written")
    parser.add_argument("--raw", action="store_true", help="sample grids at the native size (default: tiles under "
                                                           "128 px enlarged)")
    add_device_arguments(parser)
    args = parser.parse_args(argv)
    if args.data:
        if args.path and args.path != args.data:
            parser.error("give the data once: PATH or --data")
        args.path = args.data
    if isinstance(args.sched, str) and ":" not in args.sched:  # `--sched PATH`: the flag, then the data
        if args.path is not None:
            parser.error(f"--sched {args.sched}: not a table RES:BATCH,...")
        args.path, args.sched = args.sched, True
    return parser, args


def phase_value(text):
    """--phase: images (int) or a table RES:IMAGES or RES:FADE/STABILISE, checked here, kept as text."""
    if text.isdigit():
        return int(text)
    try:
        parse_table(text, "--phase", pairs=True)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def new_config(args, dataset=None):
    """The settings of a new run: the arch's defaults, its preset, then the options given; what is left
    open (max_size) from the data (``dataset``, else the LMDB at ``args.path``)."""
    family = FAMILIES[args.arch]
    defaults = family.defaults
    given = {k: v for k, v in vars(args).items() if k in setting_names() and v is not None}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        sys.exit(f"train: --{unknown[0]} is not a {args.arch} setting")
    if args.sched and args.arch != "stylegan1":
        sys.exit("train: --sched is a StyleGAN 1 setting (progressive growing)")
    cfg = {**defaults, **family.presets.get(args.preset, {}), **given}
    if cfg["loss"] not in family.losses:
        sys.exit(f"train: --loss {cfg['loss']} is not a {args.arch} loss; choose from {family.losses}")
    if cfg["max_size"] is None or cfg["aug"] is None or args.cond:
        from jittor_stylegan.data import MultiResolutionDataset
        dataset = dataset or MultiResolutionDataset(args.path)
        cfg["max_size"] = cfg["max_size"] or dataset.sizes()[-1]
        cfg["aug"] = cfg["aug"] or aug_default(args.arch, len(dataset))
    if args.cond:
        cfg.update(conditional_config(args, dataset))
    if isinstance(args.sched, str):
        try:
            parse_table(args.sched, "--sched")
        except ValueError as e:
            sys.exit(f"train: {e}")
    cfg.update(arch=args.arch, path=args.path, seed=args.seed, mixing=args.mixing, sched=args.sched,
               no_from_rgb_activate=args.no_from_rgb_activate, sample_rows=args.sample_rows,
               sample_cols=args.sample_cols, keep=args.keep or 5, minutes=args.minutes,
               ckpt_minutes=args.ckpt_minutes, metrics=args.metrics,
               metrics_every=args.metrics_every, metrics_images=args.metrics_images, raw=args.raw,
               preset=args.preset, wandb=args.wandb, vgg16=args.vgg16 and os.path.abspath(args.vgg16))
    return cfg


def conditional_config(args, dataset):
    """The settings ``--cond 1`` adds: the data's class count (G's and D's ``c_dim``), names and frequencies (fakes
    take classes as often as the data has them, as NVIDIA draws them from the training set)."""
    labels = dataset.labels()
    if labels is None:
        sys.exit(f"train: --cond 1 needs labels, and {args.path} has none: give a folder with a dataset.json or one "
                 f"sub-folder per class, CIFAR-10's archive or an LMDB of prepare_data.py --builtin fashion-mnist")
    counts = np.bincount(labels, minlength=len(dataset.classes))
    return dict(cond=1, c_dim=len(dataset.classes), class_names=list(dataset.classes), class_counts=counts.tolist())


def pickle_networks(args):
    """``nvidia.networks`` of --resume's pickle, for a StyleGAN 2 run (one-line ValueErrors)."""
    from jittor_stylegan.formats import nvidia
    if args.arch != "stylegan2":
        raise ValueError("--resume PKL starts from NVIDIA's StyleGAN 2 networks: give --arch stylegan2")
    nets = nvidia.networks(args.resume)
    if "D" not in nets:
        raise ValueError(f"{args.resume} holds no discriminator (D) to fine-tune")
    return nets


def networks_from_pickle(cfg, args, dataset, nets):
    """Start a new run from an NVIDIA pickle's ``nets``: their constructor arguments go into ``cfg`` (the
    resolution, latent size and mapping depth with them), their states ({checkpoint key: state}) are
    returned. A pickle that does not fit the data is a one-line ValueError."""
    ema_args, ema_state, _ = nets["G_ema"]
    g_args, g_state, _ = nets.get("G", nets["G_ema"])
    d_args, d_state = nets["D"]
    size, channels = g_args["size"], g_args["image_channels"]
    if g_args.get("c_dim", 0) != cfg.get("c_dim", 0):
        raise ValueError(f"{args.resume} has c_dim={g_args.get('c_dim', 0)}, the run {cfg.get('c_dim', 0)} classes "
                         "(--cond 1 on data with as many classes)")
    if args.max_size not in (None, size):
        raise ValueError(f"--max_size {args.max_size}: {args.resume} makes {size} px images")
    if not dataset.has_size(size):
        raise ValueError(f"{args.resume} makes {size} px images; {args.path} has none (prepare_data.py --max_size "
                         f"{size})")
    if cfg["channels"] != channels:
        raise ValueError(f"{args.resume} makes {channels}-channel images, the run {cfg['channels']} (--channels)")
    cfg.update(max_size=size, code_size=g_args["style_dim"], n_mlp=g_args["n_mlp"], resume=os.path.abspath(args.resume),
               networks={"g": g_args, "g_ema": ema_args, "d": d_args})
    return {"g": g_state, "d": d_state, "g_ema": ema_state}


def reference_widths(cfg):
    """True when the networks have the reference (GPU-sized) widths."""
    family = FAMILIES[cfg["arch"]]
    return all(cfg[k] == family.defaults[k] for k in family.widths)


def cpu_hint(cfg):
    """On a CPU with GPU-sized networks: a callback that says, once an iteration was timed, how long the
    run would take and names the preset that learns on a CPU."""
    import jittor as jt
    if jt.flags.use_cuda or not reference_widths(cfg):
        return None

    def say(seconds, remaining, write):
        days = seconds * remaining / 86400
        write(f"train: on this CPU one iteration takes {seconds:.2f} s: the {remaining:,} iterations left would take "
              f"{days:,.1f} days. These are the reference (GPU-sized) networks; for a run that learns on a CPU "
              f"in minutes, stop (Ctrl-C) and use --preset cpu-demo")
    return say


def main(argv=None):
    parser, args = parse(argv)
    if args.cond and args.arch != "stylegan2":
        sys.exit(f"train: --cond 1 is a StyleGAN 2 setting (--arch stylegan2), not {args.arch}")
    from jittor_stylegan import runtime
    runtime.configure_from_args(args)
    from jittor_stylegan import distributed
    from jittor_stylegan.data import DataError, MultiResolutionDataset, dataset_for
    from jittor_stylegan import formats
    from jittor_stylegan.formats import checkpoint
    from jittor_stylegan.training import foreign, logs, run_files
    from jittor_stylegan.training.loop import Trainer, TrainingInterrupted, TrainingStopped

    resume = states = nets = None
    try:
        if args.wandb:
            logs.check_wandb()
        if args.ckpt and args.resume:
            parser.error("--ckpt continues a run, --resume PKL starts one from NVIDIA's networks: give one")
        if args.ckpt and os.path.isfile(args.ckpt) and formats.sniff(args.ckpt) == "nvidia":
            parser.error(f"{args.ckpt} is an NVIDIA network pickle: start a run from it with DATA --arch stylegan2 "
                         f"--resume {args.ckpt}")
        # rosinality's or StyleGanJittor's training file: a new run, its settings from the command line
        foreign_file = foreign.read(args.ckpt) if args.ckpt else None
        if foreign_file:
            args.arch = foreign_file.arch
            if args.cond:
                sys.exit(f"train: --cond 1: {args.ckpt} holds unconditional networks (rosinality's / StyleGanJittor's)")
        if args.ckpt and not foreign_file:
            resume = checkpoint.load_training(args.ckpt)
            cfg = dict(resume[0]["config"])
            cfg.update({k: getattr(args, k) for k in RESUME_OVERRIDES if getattr(args, k) is not None}, raw=args.raw,
                       wandb=args.wandb)
            cfg["run_dir"] = run_files.resume_run_dir(args.ckpt, resume[0]["run_id"], args.run_dir)
        else:
            if args.path is None:
                parser.error(f"give the data to train {args.ckpt} on" if foreign_file
                             else "give an LMDB path, an image folder / archive, or --ckpt to resume")
            source, main_rank = args.path, distributed.is_main()  # an image folder / archive: its cached LMDB
            nets = pickle_networks(args) if args.resume else None
            size = args.max_size or (nets["G_ema"][0]["size"] if nets else
                                     FAMILIES[args.arch].presets.get(args.preset, {}).get("max_size"))
            args.path = dataset_for(source, size, args.channels, args.data_cache,
                                    progress=main_rank and not args.no_progress,
                                    log=(lambda line: print(f"train: {line}")) if main_rank else None)
            dataset = MultiResolutionDataset(args.path)
            cfg = new_config(args, dataset)
            cfg["channels"] = dataset.channels()
            if args.channels not in (None, cfg["channels"]):
                raise DataError(f"--channels {args.channels}: {args.path} holds {cfg['channels']}-channel images; "
                                f"train from the images, or prepare_data.py --channels {args.channels}")
            if foreign_file:
                given = {k: v for k, v in vars(args).items() if v is not None}
                if args.arch == "stylegan1" and args.max_size is None:  # up to the data's largest size, as a new run
                    given["max_size"] = min(cfg["max_size"], foreign_file.settings()["max_size"])
                cfg, resume = foreign_file.resume(cfg, given)
            if nets:
                states = networks_from_pickle(cfg, args, dataset, nets)
            cfg["run_dir"], note = run_files.new_run_dir(args.run_dir, source)
            if note and distributed.is_main():
                print(f"train: {note}")
        distributed.barrier()  # under MPI: every process has chosen the run folder before rank 0 writes to it
        trainer = Trainer(cfg, resume)
        if states:
            trainer.family.start_from(states)
        if distributed.is_main():
            print(trainer.plan())
        progress = trainer.run(progress_bar=not args.no_progress, on_timed=cpu_hint(cfg))
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

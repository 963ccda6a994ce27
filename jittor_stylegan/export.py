"""Export networks: an NVIDIA StyleGAN 2 pickle (read without running it) as a checkpoint of this project or
a rosinality PyTorch file, or a checkpoint's EMA generator alone, for sampling.

    python -m jittor_stylegan.export network-snapshot-001000.pkl ffhq.npz   # this project's (generate.py, metrics)
    python -m jittor_stylegan.export network-snapshot-001000.pkl ffhq.pt    # rosinality's stylegan2-pytorch
    python -m jittor_stylegan.export runs/emoji/checkpoint/002500.npz emoji.npz --g_ema_only --float16

This project's checkpoint of a pickle keeps everything: G, D, G_ema with their constant noise, ``conv_clamp``
and ``w_avg`` (the truncation centre); it samples and measures, but is no training state (fine-tune with
``train.py --resume X.pkl``). rosinality's format has no place for ``conv_clamp`` (refused unless
``--drop_conv_clamp``: its images then differ wherever an activation passes the clamp) or ``w_avg``
(rosinality's generate.py computes its own mean latent).

``--g_ema_only`` writes the EMA generator alone (of a training checkpoint of this project, with its run's
config and progress, or of a pickle): what generate.py, video_write.py --ckpt, viewer.py and the metrics CLI
sample, without D, G and the Adam moments (a fraction of a training checkpoint); ``train.py --ckpt`` refuses
it. ``--float16`` stores its arrays as float16 (half the size again), cast back to float32 when loaded.
"""
import argparse
import os
import sys

from . import formats
from .formats import checkpoint, nvidia, rosinality


def export_checkpoint(pickle, path, float16=False):
    """This project's checkpoint of an NVIDIA pickle's ``Contents`` (``nvidia.read``), for sampling and metrics
    (G_ema alone: a generator-only file, its arrays float16 when ``float16``)."""
    args, w_avg = pickle.args, pickle.w_avg
    # the config of a run fine-tuned from the pickle: its networks are the pickle's
    config = {"arch": pickle.arch, "resume": os.path.abspath(pickle.path), "networks": args}
    meta = {"arch": pickle.arch, "config": config, "networks": args, "progress": {}, "optimizers": {},
            "run_id": "exported", "w_avg": None if w_avg is None else [float(v) for v in w_avg]}
    if set(pickle.states) == {pickle.generator}:
        meta[checkpoint.GENERATOR_ONLY] = True
    return checkpoint.save(path, meta, pickle.states, float16)


def generator_only(source, path, float16=False):
    """This project's checkpoint ``source`` reduced to its EMA generator (its run's config and progress kept:
    they say how to rebuild it and, for StyleGAN 1, up to which size it was trained); arrays float16 when
    ``float16``."""
    contents = checkpoint.read(source, ema_only=True)
    meta, key = contents.training[0], contents.generator
    networks = {k: v for k, v in meta.get("networks", {}).items() if k == key}
    meta = dict(meta, networks=networks, optimizers={}, **{checkpoint.GENERATOR_ONLY: True})
    return checkpoint.save(path, meta, {key: contents.states[key]}, float16)


def export_torch(nets, path, drop_conv_clamp=False):
    """A rosinality StyleGAN 2 file {g, d, g_ema} (those ``nets`` hold) of ``nvidia.networks``' output."""
    clamps = {v[0].get("conv_clamp") for v in nets.values()} - {None}
    if clamps and not drop_conv_clamp:
        raise nvidia.NvidiaPickleError(f"conv_clamp={clamps.pop()} has no place in rosinality's networks "
                                       "(--drop_conv_clamp writes them without it)")
    c_dim = max(v[0].get("c_dim", 0) for v in nets.values())
    if c_dim:
        raise nvidia.NvidiaPickleError(f"a conditional network (c_dim={c_dim}): rosinality's networks take no labels")
    if nets.get("D", [{}])[0].get("architecture", "resnet") != "resnet":
        raise nvidia.NvidiaPickleError(f"D architecture '{nets['D'][0]['architecture']}': rosinality's "
                                       "discriminator is resnet only")
    modules = {}
    for key, name in nvidia.KEYS.items():
        if key in nets:
            args = dict(nets[key][0], conv_clamp=None)
            modules[name] = (nvidia.build_discriminator(args, nets[key][1]) if key == "D"
                             else nvidia.build_generator(args, *nets[key][1:]))
    rosinality.save_torch_checkpoint(path, **modules)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m jittor_stylegan.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="NVIDIA network pickle (network-snapshot-*.pkl); with --g_ema_only also a "
                                       "checkpoint of this project (.npz)")
    parser.add_argument("out", help="*.npz: this project's checkpoint; *.pt / *.model: rosinality's")
    parser.add_argument("--g_ema_only", action="store_true",
                        help="the EMA generator alone, for sampling (generate.py, video_write.py --ckpt, viewer.py, "
                             "the metrics CLI); train.py --ckpt refuses it")
    parser.add_argument("--float16", action="store_true", help="with --g_ema_only to a .npz: the weights stored as "
                                                               "float16 (half the size), float32 again when loaded")
    parser.add_argument("--drop_conv_clamp", action="store_true", help="rosinality's format: write the networks "
                                                                        "without their conv_clamp")
    args = parser.parse_args(argv)
    to_npz = args.out.endswith(checkpoint.SUFFIX)
    if not to_npz and not args.out.endswith((".pt", ".model", ".pth")):
        parser.error(f"{args.out}: give a .npz (this project's checkpoint) or .pt (rosinality's) name")
    if args.float16 and not (args.g_ema_only and to_npz):
        parser.error("--float16 stores a generator for sampling: give --g_ema_only and a .npz name")
    try:
        if not os.path.isfile(args.source):
            raise checkpoint.CheckpointError(f"no file at {args.source}")
        kind = formats.sniff(args.source)
        if kind == "checkpoint":
            if not (args.g_ema_only and to_npz):
                parser.error(f"{args.source} is a checkpoint of this project: it exports with --g_ema_only, "
                             "to a .npz")
            path = generator_only(args.source, args.out, args.float16)
        elif kind == "nvidia" and to_npz:
            path = export_checkpoint(nvidia.read(args.source, args.g_ema_only), args.out, args.float16)
        elif kind == "nvidia":
            nets = nvidia.networks(args.source, ["G_ema"] if args.g_ema_only else nvidia.NETWORK_KEYS)
            path = export_torch(nets, args.out, args.drop_conv_clamp)
        else:
            raise checkpoint.CheckpointError(f"{args.source} is neither an NVIDIA network pickle nor a checkpoint "
                                             "of this project")
    except (nvidia.NvidiaPickleError, checkpoint.CheckpointError, ImportError) as e:
        sys.exit(f"export: {e}")
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

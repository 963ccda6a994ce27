"""Export an NVIDIA StyleGAN 2 pickle (read without running it) as a checkpoint of this project or a
rosinality PyTorch file.

    python -m jittor_stylegan.export network-snapshot-001000.pkl ffhq.npz   # this project's (generate.py, metrics)
    python -m jittor_stylegan.export network-snapshot-001000.pkl ffhq.pt    # rosinality's stylegan2-pytorch

This project's checkpoint keeps everything: G, D, G_ema with their constant noise, ``conv_clamp`` and
``w_avg`` (the truncation centre); it samples and measures, but is no training state (fine-tune with
``train.py --resume X.pkl``). rosinality's format has no place for ``conv_clamp`` (refused unless
``--drop_conv_clamp``: its images then differ wherever an activation passes the clamp) or ``w_avg``
(rosinality's generate.py computes its own mean latent).
"""
import argparse
import os
import sys

from . import convert, nvidia
from .training import checkpoint


def export_checkpoint(nets, source, path):
    """This project's checkpoint of ``nvidia.networks``' output, for sampling and metrics."""
    keys = {"G": "g", "D": "d", "G_ema": "g_ema"}
    args = {keys[k]: v[0] for k, v in nets.items()}
    tensors = {keys[k]: v[1] for k, v in nets.items()}
    w_avg = nets["G_ema"][2]
    # the config of a run fine-tuned from the pickle: its networks are the pickle's
    config = {"arch": "stylegan2", "resume": os.path.abspath(source), "networks": args}
    meta = {"arch": "stylegan2", "config": config, "networks": args, "progress": {}, "optimizers": {},
            "run_id": "exported", "w_avg": None if w_avg is None else [float(v) for v in w_avg]}
    return checkpoint.save(path, meta, tensors)


def export_torch(nets, path, drop_conv_clamp=False):
    """A rosinality StyleGAN 2 file {g, d, g_ema} of ``nvidia.networks``' output."""
    clamps = {v[0].get("conv_clamp") for v in nets.values()} - {None}
    if clamps and not drop_conv_clamp:
        raise nvidia.NvidiaPickleError(f"conv_clamp={clamps.pop()} has no place in rosinality's networks "
                                       "(--drop_conv_clamp writes them without it)")
    if nets.get("D", [{}])[0].get("architecture", "resnet") != "resnet":
        raise nvidia.NvidiaPickleError(f"D architecture '{nets['D'][0]['architecture']}': rosinality's "
                                       "discriminator is resnet only")
    modules = {}
    for key, name in (("G", "g"), ("D", "d"), ("G_ema", "g_ema")):
        if key in nets:
            args = dict(nets[key][0], conv_clamp=None)
            modules[name] = (nvidia.build_discriminator(args, nets[key][1]) if key == "D"
                             else nvidia.build_generator(args, *nets[key][1:]))
    convert.save_torch_checkpoint(path, **modules)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pickle", help="NVIDIA network pickle (network-snapshot-*.pkl)")
    parser.add_argument("out", help="*.npz: this project's checkpoint; *.pt / *.model: rosinality's")
    parser.add_argument("--drop_conv_clamp", action="store_true", help="rosinality's format: write the networks "
                                                                        "without their conv_clamp")
    args = parser.parse_args(argv)
    try:
        nets = nvidia.networks(args.pickle)
        if args.out.endswith(checkpoint.SUFFIX):
            path = export_checkpoint(nets, args.pickle, args.out)
        elif args.out.endswith((".pt", ".model", ".pth")):
            path = export_torch(nets, args.out, args.drop_conv_clamp)
        else:
            parser.error(f"{args.out}: give a .npz (this project's checkpoint) or .pt (rosinality's) name")
    except (nvidia.NvidiaPickleError, ImportError) as e:
        sys.exit(f"export: {e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

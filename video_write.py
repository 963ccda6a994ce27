"""Videos: training progress from a folder of samples, or a latent interpolation from a checkpoint.

    python video_write.py runs/emoji/sample --out progress.mp4 --fps 10 --label
    python video_write.py --ckpt runs/emoji/checkpoint/001500.npz --size 32 --out interp.mp4
"""
import argparse
import sys

from jittor_stylegan import runtime
from jittor_stylegan.video import VideoError, folder_to_mp4


def interpolation_video(args):
    runtime.configure_from_args(args)
    from jittor_stylegan import sampling
    from jittor_stylegan.training.checkpoint import CheckpointError
    from jittor_stylegan.training.families import sampler_for_size

    try:
        sampler = sampler_for_size(args.ckpt, args.size)
    except (CheckpointError, ValueError) as e:
        raise VideoError(str(e)) from None
    frames = sampling.interpolation(sampler, args.seeds, args.frames)
    return sampling.interpolation_mp4(frames, args.out, args.fps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", help="folder of numbered PNG frames (e.g. runs/<run>/sample)")
    parser.add_argument("--out", default="progress.mp4")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--label", action="store_true", help="draw each frame's iteration number")
    parser.add_argument("--size", type=int, default=None,
                        help="output width (folder mode) or image size (--ckpt mode)")
    parser.add_argument("--ckpt", help="make a latent interpolation video from this checkpoint instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="latents to pass through")
    parser.add_argument("--frames", type=int, default=24, help="frames between two seeds")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    if (args.folder is None) == (args.ckpt is None):
        parser.error("give a sample folder or --ckpt")
    if args.ckpt and args.size is None:
        parser.error("--ckpt needs --size")
    try:
        path = interpolation_video(args) if args.ckpt else folder_to_mp4(
            args.folder, args.out, args.fps, args.label, args.size)
    except VideoError as e:
        sys.exit(f"video_write: {e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

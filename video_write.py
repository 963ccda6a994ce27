"""Videos: training progress from a folder of samples, or a latent interpolation from a checkpoint.

    python video_write.py                                   # the newest run's sample/ -> <run>/progress.mp4
    python video_write.py runs/emoji/sample --out progress.avi --fps 20
    python video_write.py --ckpt runs/emoji/checkpoint/001500.npz --out interp.mp4   # --size: another size

Frames are labelled with the iteration (and the resolution, from the run's log) unless --no_label.
--out name.avi writes AVI (Motion JPEG, as StyleGanJittor's VideoWrite.py wrote AVI); other names mp4.
"""
import argparse
import os
import sys

from jittor_stylegan import runs, runtime
from jittor_stylegan.video import VideoError, folder_to_mp4, last_width


def interpolation_video(args):
    runtime.configure_from_args(args)
    from jittor_stylegan import sampling
    from jittor_stylegan.loading import CheckpointError, sampler_for_size

    try:
        sampler = sampler_for_size(args.ckpt, args.size)
    except (CheckpointError, ValueError) as e:
        raise VideoError(str(e)) from None
    frames = sampling.interpolation(sampler, args.seeds, args.frames)
    return sampling.interpolation_mp4(frames, args.out, args.fps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", help="folder of numbered PNG frames (default: the sample/ folder of "
                                                  "the most recently written run in runs/)")
    parser.add_argument("--out", help="video file, .mp4 or .avi (default: <run>/progress.mp4 for a run's samples, "
                                      "else progress.mp4)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--label", action="store_true", default=True, help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--no_label", dest="label", action="store_false",
                        help="no iteration / resolution label on the frames")
    parser.add_argument("--size", type=int, default=None,
                        help="output width (folder mode) or image size (--ckpt mode; default: the largest the checkpoint "
                             "was trained to)")
    parser.add_argument("--ckpt", help=f"make a latent interpolation video from this checkpoint instead: "
                                       f"{runs.CHECKPOINT_FILES}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="latents to pass through")
    parser.add_argument("--frames", type=int, default=24, help="frames between two seeds")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    if args.folder and args.ckpt:
        parser.error("give a sample folder or --ckpt, not both")
    if args.folder is None and args.ckpt is None:
        try:
            args.folder = os.path.join(runs.newest_run(need="sample"), "sample")
        except runs.NoRunError as e:
            sys.exit(f"video_write: {e}")
        print(f"video_write: using {args.folder} (the most recently written run)")
        args.size = args.size or last_width(args.folder)  # grids over 128 px tiles change size with the resolution
    if args.out is None:
        run = os.path.dirname(os.path.normpath(args.folder)) if args.folder else ""
        args.out = os.path.join(run, "progress.mp4") if args.folder and os.path.basename(
            os.path.normpath(args.folder)) == "sample" else "progress.mp4"
    try:
        path = interpolation_video(args) if args.ckpt else folder_to_mp4(
            args.folder, args.out, args.fps, args.label, args.size)
    except VideoError as e:
        sys.exit(f"video_write: {e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Turn a folder of training samples into an mp4 of training progress.

    python video_write.py runs/emoji/sample --out progress.mp4 --fps 10 --label
"""
import argparse
import sys

from jittor_stylegan.video import VideoError, folder_to_mp4


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="folder of numbered PNG frames (e.g. runs/<run>/sample)")
    parser.add_argument("--out", default="progress.mp4")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--label", action="store_true", help="draw each frame's iteration number")
    parser.add_argument("--size", type=int, default=None, help="output width in pixels (resizes frames)")
    args = parser.parse_args(argv)
    try:
        path = folder_to_mp4(args.folder, args.out, args.fps, args.label, args.size)
    except VideoError as e:
        sys.exit(f"video_write: {e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""See the latent space: an interactive viewer in the browser (seed, truncation, style mixing, noise,
resolution, grids, interpolations, SeFa directions, classes, uploaded images projected and edited).

    python viewer.py                                    # the newest checkpoint under runs/, http://127.0.0.1:7860/
    python viewer.py --path runs/emoji/checkpoint/001000.npz --port 8000

Over SSH: ssh -L 7860:127.0.0.1:7860 HOST, run it there, open http://127.0.0.1:7860/ here. The page can
switch between every checkpoint under runs/ and the files given with --path; it opens nothing else.
"""
import argparse
import os
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def main(argv=None):
    from jittor_stylegan import runtime, runs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", action="append", metavar="CKPT",
                        help=f"checkpoint: {runs.CHECKPOINT_FILES}; shown first; repeat to offer several; "
                             "default: the newest checkpoint of the most recently written run in runs/")
    parser.add_argument("--port", type=int, default=7860, help="0: any free port")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but the loopback lets other machines in")
    parser.add_argument("--vgg16", default=os.environ.get("JSG_VGG16"),
                        help="NVIDIA's vgg16.pt for the LPIPS distance of projections (default: $JSG_VGG16, else "
                             "the offline distance)")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in 0-65535, got {args.port}")
    if args.path is None:
        try:
            args.path = [runs.newest_checkpoint()]
        except runs.NoRunError as e:
            sys.exit(f"viewer: {e}")
        print(f"viewer: using {args.path[0]} (the newest checkpoint of the most recently written run)")
    if args.vgg16 is not None and not os.path.isfile(args.vgg16):
        sys.exit(f"viewer: no file {args.vgg16} (--vgg16)")
    if args.host not in LOOPBACK:
        print(f"viewer: WARNING: listening on {args.host!r}: other machines can reach the viewer (it has no "
              "login); the default 127.0.0.1 with an SSH tunnel keeps it private", file=sys.stderr)
    runtime.configure_from_args(args)
    from jittor_stylegan.viewer.server import BadRequest, serve
    try:
        serve(args.path, args.host, args.port, args.vgg16)
    except BadRequest as e:
        sys.exit(f"viewer: {e}")
    except OSError as e:
        sys.exit(f"viewer: cannot listen on {args.host}:{args.port} ({e.strerror or e})")


if __name__ == "__main__":
    main()

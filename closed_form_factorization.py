"""SeFa: the closed-form semantic directions of a generator (rosinality's closed_form_factorization.py).

    python closed_form_factorization.py [--path CKPT] [--out factors.npz]
    python generate.py --path CKPT --factor factors.npz --index 0 --degree 5 --seeds 0-7   # the edit grid
"""
import argparse
import sys


def main(argv=None):
    from jittor_stylegan import runtime, runs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", "--ckpt", "--network",
                        help=f"checkpoint: {runs.CHECKPOINT_FILES}; default: the newest checkpoint of the most "
                             "recently written run in runs/")
    parser.add_argument("--size", type=int, default=None, help="StyleGAN 1: the image size whose blocks count "
                                                               "(default: the largest trained)")
    parser.add_argument("--out", default="factors.npz", help="output file")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    args.path = runs.path_or_newest(args.path, "closed_form_factorization")
    runtime.configure_from_args(args)
    from jittor_stylegan import sefa
    from jittor_stylegan.loading import CheckpointError, sampler_for_size

    try:
        sampler = sampler_for_size(args.path, args.size)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"closed_form_factorization: {e}")
    eigvec, singular = sefa.factorize(sampler.generator, sampler.size)
    sefa.save_factors(args.out, eigvec, singular, args.path)
    top = ", ".join(f"{s:.3g}" for s in singular[:5])
    print(f"wrote {args.out}: {eigvec.shape[1]} directions of w ({eigvec.shape[0]}-d), singular values {top} ...")


if __name__ == "__main__":
    main()

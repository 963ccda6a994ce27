"""Build a multi-resolution LMDB from an image folder, a .zip, CIFAR-10's python archive
or a built-in dataset.

    python prepare_data.py --out mdb/emoji --builtin emoji --max_size 64
    python prepare_data.py --out mdb/faces path/to/images --max_size 256
    python prepare_data.py --out mdb/cifar10 cifar-10-python.tar.gz --max_size 32

Labels (for train.py --cond 1) are kept from a dataset.json in NVIDIA's format at the input's root, from one
sub-folder per class, from CIFAR-10's batches and from Fashion-MNIST's files.
"""
import argparse
import sys

from jittor_stylegan.data import CIFAR10_SPLITS, MIN_SIZE, DataError, prepare


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="folder (searched recursively) or .zip of images, or CIFAR-10's "
                        "python archive cifar-10-python.tar.gz (its pickled batches are read with only numpy's array "
                        "constructors allowed: a crafted file cannot run code)")
    parser.add_argument("--builtin", choices=["emoji", "fashion-mnist"], help="use a dataset shipped by Debian")
    parser.add_argument("--out", required=True, help="LMDB folder to create")
    parser.add_argument("--max_size", type=int, default=64, help="largest size (power of two)")
    parser.add_argument("--min_size", type=int, default=MIN_SIZE, help="smallest size (power of two)")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="1 = grey, 3 = RGB (default: 1 when every "
                        "image is grey, else 3)")
    parser.add_argument("--n_worker", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--cifar10_split", choices=CIFAR10_SPLITS, default="train",
                        help="CIFAR-10 archive: train = data_batch_1..5, 50,000 images (default); "
                        "test = test_batch, 10,000; all = both")
    args = parser.parse_args(argv)
    if (args.path is None) == (args.builtin is None):
        parser.error("give either an input path or --builtin")
    try:
        done = prepare(args.out, args.path, args.builtin, args.max_size, args.min_size, args.channels, args.n_worker,
                       args.force, args.limit, cifar10_split=args.cifar10_split)
    except DataError as e:
        sys.exit(f"prepare_data: {e}")
    for name, reason in done.skipped:
        print(f"skipped {name}: {reason}")
    labels = (f"; labelled, {len(done.classes)} classes: {', '.join(done.classes)}" if done.classes
              else "; unlabelled")
    print(f"wrote {done.written} images to {args.out} at sizes {args.min_size}..{args.max_size}, {done.choice}; "
          f"skipped {len(done.skipped)}{labels}")


if __name__ == "__main__":
    main()

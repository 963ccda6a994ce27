"""Score a checkpoint (or a second image set) against a dataset (NVIDIA's calc_metrics.py).

    python calc_metrics.py --network CKPT --data mdb/ffhq --size 256 --metrics fid50k_full,kid50k_full,pr50k3_full
    python calc_metrics.py --path runs/emoji/checkpoint/002500.npz --data mdb/emoji --size 32
    python calc_metrics.py --path CKPT --data mdb/fashion --size 32 --num 10000 --num_fake 5000 --metrics fid,kid
    python calc_metrics.py --path mdb/emoji --path_start 1945 --data mdb/emoji --num 1945 --size 32

NVIDIA's names take NVIDIA's counts: fid50k_full and kid50k_full (every real image, 50,000 generated),
pr50k3_full (up to 200,000 real, 50,000 generated, 3rd neighbour), ppl2_wend (50,000 pairs, w space, ends);
P/R compares NVIDIA's VGG16 features and PPL its LPIPS (--vgg16 vgg16.pt: read, nothing in it runs); without
--vgg16 they use Inception features, named pr50k3_full_inception and ppl2_wend_inception (not comparable with
published numbers). A conditional generator's image i takes class i mod classes. The short forms fid, kid, swd
take --num real and --num_fake generated images. FID and KID compare Inception features; SWD (x 1e3)
Laplacian-pyramid patches.
Dataset statistics are cached under ~/.cache/jittor_stylegan/metrics (--no_cache to skip).
"""
import argparse
import json
import os
import sys

from jittor_stylegan import runs, runtime


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", "--network", required=True,
                        help=f"a checkpoint: {runs.CHECKPOINT_FILES}; or an image set (LMDB, folder or .zip)")
    parser.add_argument("--data", required=True, help="reference images: LMDB from prepare_data.py, folder or .zip")
    parser.add_argument("--size", type=int, help="image size to compare at (default for a checkpoint: the size it "
                                                 "was trained to)")
    parser.add_argument("--metrics", default="fid,kid,swd",
                        help="comma-separated: fid, kid, swd (counts: --num, --num_fake); NVIDIA's fid50k_full, "
                             "kid50k_full, pr50k3_full, ppl2_wend (their counts); is50k is refused (no classifier "
                             "head)")
    parser.add_argument("--num", type=int, help="real images for fid, kid, swd, from --data_start (default: all of "
                                                "--data)")
    parser.add_argument("--num_fake", type=int, help="generated (or --path) images for fid, kid, swd (default: as "
                        "many as the real ones; SWD needs equal counts)")
    parser.add_argument("--vgg16", metavar="PATH", help="NVIDIA's vgg16.pt (a download: VGG16 features for "
                        "pr50k3_full, LPIPS for ppl2_wend); without it those two run on Inception features, named "
                        "..._inception")
    parser.add_argument("--data_start", type=int, default=0, help="first image of --data")
    parser.add_argument("--path_start", type=int, default=0, help="first image of --path when it is an image set")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="latents of the generated images")
    parser.add_argument("--no_cache", action="store_true", help="do not read or write cached dataset statistics")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    runtime.add_device_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    runtime.configure_from_args(args)
    from jittor_stylegan.data import DataError
    from jittor_stylegan.loading import CheckpointError, sampler_for_size
    from jittor_stylegan.metrics import scoring

    try:
        metrics = scoring.parse_metrics(args.metrics, args.vgg16)
        vgg16 = scoring.vgg16_network(args.vgg16) if args.vgg16 else None
        if os.path.isfile(args.path) and not args.path.lower().endswith(".zip"):
            sampler = sampler_for_size(args.path, args.size)
            real = scoring.DatasetImages(args.data, sampler.size, args.num, args.data_start, sampler.channels)
            fake = scoring.GeneratedImages(sampler, args.num_fake or real.count, args.seed)
        else:
            if args.size is None:
                raise ValueError("--size is needed to compare two image sets")
            real = scoring.DatasetImages(args.data, args.size, args.num, args.data_start)
            fake = scoring.DatasetImages(args.path, args.size, args.num_fake or real.count, args.path_start)
        note = scoring.inception_note(metrics)
        if note:
            print(f"calc_metrics: {note}", file=sys.stderr)
        results = scoring.evaluate(metrics, real, fake, args.batch,
                                    cache_dir=None if args.no_cache else scoring.CACHE_DIR, vgg16=vgg16)
    except (DataError, ValueError, FileNotFoundError, CheckpointError) as e:
        sys.exit(f"calc_metrics: {e}")
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name:>28s} {value:.6g}")


if __name__ == "__main__":
    main()

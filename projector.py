"""Find the latent of an image: NVIDIA's projector (stylegan2-ada-pytorch) for both StyleGAN families.

    python projector.py --target photo.png [--path CKPT] [--outdir out] [--num-steps 1000] [--w_plus]

Writes out/target.png (the target as the generator sees it: centre-cropped, resized), out/proj.png (the
projection), out/projected_w.npz (``w``: (levels, w_dim) in W+, (1, w_dim) in W; the noise maps found;
the checkpoint) and, with --save-video 1, out/proj.mp4 (target | projection, one frame per step).
``python generate.py --projected-w out/projected_w.npz`` renders it again.
The distance is LPIPS on NVIDIA's VGG16 with --vgg16 vgg16.pt, else an offline one (README).
"""
import argparse
import os
import sys


def main(argv=None):
    from jittor_stylegan import runtime, runs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="the image to project (any size: centre-cropped, resized)")
    parser.add_argument("--path", "--network", "--ckpt",
                        help=f"checkpoint: {runs.CHECKPOINT_FILES}; default: the newest checkpoint of the most "
                             "recently written run in runs/")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the largest trained)")
    parser.add_argument("--outdir", "--out", default="out", help="output folder")
    parser.add_argument("--num-steps", "--num_steps", "--step", type=int, default=1000, dest="num_steps",
                        help="optimisation steps")
    parser.add_argument("--seed", type=int, default=303, help="the initial noise maps' and w noise's seed")
    parser.add_argument("--w_plus", "--w-plus", action="store_true", help="one w per resolution level (W+)")
    parser.add_argument("--noise_regularize", type=float, default=1e5, help="noise-map regularisation weight")
    parser.add_argument("--mse", type=float, default=0.0, help="weight of the pixel MSE added to the loss")
    parser.add_argument("--lr", type=float, default=0.1, help="the peak learning rate")
    parser.add_argument("--save-video", "--save_video", type=int, choices=(0, 1), default=0,
                        help="1: write proj.mp4, target | projection at every step")
    parser.add_argument("--vgg16", default=os.environ.get("JSG_VGG16"),
                        help="NVIDIA's vgg16.pt for the LPIPS distance (default: $JSG_VGG16, else the offline "
                             "distance)")
    runtime.add_device_arguments(parser)
    args = parser.parse_args(argv)
    if args.num_steps < 1:
        parser.error("--num-steps must be >= 1")
    args.path = runs.path_or_newest(args.path, "projector")
    for name, path in (("--target", args.target), ("--vgg16", args.vgg16)):
        if path is not None and not os.path.isfile(path):
            sys.exit(f"projector: no file {path} ({name})")
    runtime.configure_from_args(args)
    import numpy as np
    from tqdm import tqdm
    from jittor_stylegan import projector
    from jittor_stylegan.images import rgb, save_array, to_uint8, upscale_factor
    from jittor_stylegan.loading import CheckpointError, sampler_for_size
    from jittor_stylegan.metrics import perceptual
    from jittor_stylegan.video import write_mp4

    try:
        sampler = sampler_for_size(args.path, args.size)
        if sampler.c_dim:
            raise ValueError(f"{args.path} is a conditional generator ({sampler.c_dim} classes): projection takes "
                             "unconditional ones only, for now")
        target, done = projector.load_target(args.target, sampler.size, sampler.channels)
        distance = perceptual.distance_for(args.vgg16)
    except (CheckpointError, ValueError, projector.TargetError) as e:
        sys.exit(f"projector: {e}")
    print(f"projector: target {args.target}: {done}")
    print(f"projector: distance: {distance.description}")
    os.makedirs(args.outdir, exist_ok=True)
    target_uint8 = to_uint8(target[None])[0]
    save_array(target_uint8, os.path.join(args.outdir, "target.png"))
    factor = upscale_factor(sampler.size)
    frames = []
    bar = tqdm(total=args.num_steps, desc="projecting", unit="step")

    def on_step(step, dist, images):
        bar.update(1)
        bar.set_postfix(dist=f"{dist:.4f}")
        if (step + 1) % 100 == 0 or step + 1 == args.num_steps:
            tqdm.write(f"step {step + 1:>5d}/{args.num_steps}: dist {dist:.4f}")
        if args.save_video:
            pair = np.concatenate([target_uint8, to_uint8(images.numpy())[0]], axis=1)
            frames.append(rgb(pair.repeat(factor, 0).repeat(factor, 1)))

    settings = projector.Settings(num_steps=args.num_steps, initial_learning_rate=args.lr, w_plus=args.w_plus,
                                  regularize_noise_weight=args.noise_regularize, mse=args.mse, seed=args.seed)
    result = projector.project(sampler.generator, sampler.size, target, distance, settings, on_step, sampler.alpha)
    bar.close()
    written = [os.path.join(args.outdir, "target.png"),
               save_array(to_uint8(result.image[None])[0], os.path.join(args.outdir, "proj.png"))]
    written.append(projector.save_w(os.path.join(args.outdir, "projected_w.npz"), result, args.path, sampler.size))
    if frames:
        written.append(write_mp4(frames, os.path.join(args.outdir, "proj.mp4"), fps=10))
    print(f"projector: distance {result.distances[0]:.4f} -> {result.distances[-1]:.4f} in {args.num_steps} "
          f"steps ({'W+' if args.w_plus else 'W'}); wrote " + ", ".join(written))


if __name__ == "__main__":
    main()

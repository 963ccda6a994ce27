"""Does a conditional generator draw the class it is asked for? A small CNN trained on Fashion-MNIST's 60,000
training images (at the generator's size, from a ``prepare_data.py --builtin fashion-mnist`` LMDB, which holds the
training split first and the 10,000 test images last) classifies ``--per_class`` generated images of each class;
its accuracy on the real test images is the ceiling to read them against. ``--grid`` also writes the README's
uncurated grid of the same images, one row per class.

    .venv/bin/python bench/class_accuracy.py --path CKPT --data bench/reference/data/fashion-mnist

Prints a markdown table (class, real test accuracy, generated accuracy) and the means. The classifier's weights
are cached next to the LMDB (``classifier-<size>px.npz``), so scoring further checkpoints skips its training.
"""
import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
TRAIN_IMAGES = 60_000  # Fashion-MNIST's training split, first in the LMDB; the test split follows


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", required=True, help="a conditional Fashion-MNIST checkpoint")
    parser.add_argument("--data", required=True, help="the Fashion-MNIST LMDB (prepare_data.py --builtin fashion-mnist)")
    parser.add_argument("--per_class", type=int, default=500, help="generated images of each class")
    parser.add_argument("--epochs", type=int, default=6, help="the classifier's epochs over the training split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", metavar="PNG", help="also write the first --grid_columns images of each class, a "
                                                      "row per class")
    parser.add_argument("--grid_columns", type=int, default=10)
    return parser.parse_args(argv)


def load_images(dataset, size):
    """uint8 (N, size, size) of every image, and their labels."""
    images = np.stack([np.asarray(dataset.image(size, i).convert("L")) for i in range(len(dataset))])
    return images, dataset.labels()


def classifier():
    """Three 3x3 convolutions (32, 64, 128 channels) with batch norm and max pooling, global average pooling, a
    linear layer."""
    from jittor import nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Pool(2, op="maximum"),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.Pool(2, op="maximum"),
                         nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(128, 10))


def augmented(images, rng):
    """Training inputs mirrored at random (the generators train with --mirror 1) and with their brightness scaled
    by 0.6-1.4 (a generator's shades differ from the data's: a class must be told by its shape)."""
    flips = rng.random(len(images)) < 0.5
    images = np.where(flips[:, None, None], images[:, :, ::-1], images)
    gain = rng.uniform(0.6, 1.4, (len(images), 1, 1, 1)).astype(np.float32)
    return np.minimum((as_input(images) + 1) * gain - 1, 1)


def as_input(images):
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [-1, 1], the generator's range."""
    return images[:, None].astype(np.float32) / 127.5 - 1


def train(net, images, labels, epochs, seed, batch=128):
    import jittor as jt
    optimizer = jt.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    net.train()
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch + 1, batch):
            index = order[start:start + batch]
            loss = jt.nn.cross_entropy_loss(net(jt.array(augmented(images[index], rng))), jt.array(labels[index]))
            optimizer.step(loss)
        print(f"class_accuracy: epoch {epoch + 1}/{epochs}, last loss {loss.item():.3f}", flush=True)
    net.eval()


def predict(net, inputs, batch=500):
    import jittor as jt
    with jt.no_grad():
        return np.concatenate([net(jt.array(inputs[i:i + batch])).numpy().argmax(1)
                               for i in range(0, len(inputs), batch)])


def main():
    args = parse()
    from jittor_stylegan import runtime
    runtime.configure(device="cpu")
    import jittor as jt
    from jittor_stylegan.data import MultiResolutionDataset
    from jittor_stylegan.images import save_grid
    from jittor_stylegan.loading import sampler_for_size

    sampler = sampler_for_size(args.path)
    if not sampler.c_dim:
        sys.exit(f"class_accuracy: {args.path} is unconditional")
    dataset = MultiResolutionDataset(args.data)
    images, labels = load_images(dataset, sampler.size)
    jt.set_global_seed(args.seed)
    net = classifier()
    cache = os.path.join(args.data, f"classifier-{sampler.size}px-{args.epochs}epochs.npz")
    if os.path.exists(cache):
        net.load_state_dict({k: v for k, v in np.load(cache).items()})
        net.eval()
    else:
        train(net, images[:TRAIN_IMAGES], labels[:TRAIN_IMAGES], args.epochs, args.seed)
        np.savez(cache, **{k: v.numpy() for k, v in net.state_dict().items()})
    test_images, test_labels = images[TRAIN_IMAGES:], labels[TRAIN_IMAGES:]
    real = predict(net, as_input(test_images)) == test_labels
    rows, shown = [], []
    for k in range(sampler.c_dim):
        sampler.select_class(str(k))
        z = np.random.default_rng([args.seed, k]).standard_normal((args.per_class, sampler.latent_dim),
                                                                  dtype=np.float32)
        fakes = np.concatenate([sampler.images(z[i:i + 100], rng=np.random.default_rng([args.seed, k, i]))
                                for i in range(0, len(z), 100)])
        rows.append((k, real[test_labels == k].mean(), (predict(net, fakes) == k).mean()))
        shown.append(fakes[:args.grid_columns])
    if args.grid:
        save_grid(np.concatenate(shown), args.grid, args.grid_columns)
    names = dataset.classes or [str(k) for k in range(sampler.c_dim)]
    print(f"\n{args.path}: {args.per_class} generated images per class; classifier: {args.epochs} epochs on the "
          f"{TRAIN_IMAGES:,} training images\n")
    print("| class | real test accuracy | generated accuracy |\n|---|---|---|")
    for k, real_acc, fake_acc in rows:
        print(f"| {k} {names[k]} | {real_acc:.3f} | {fake_acc:.3f} |")
    print(f"| mean | {real.mean():.3f} | {np.mean([r[2] for r in rows]):.3f} |")


if __name__ == "__main__":
    main()

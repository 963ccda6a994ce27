"""Improved precision and recall (Kynkaanniemi et al. 2019) of feature sets, as NVIDIA's
``metrics/precision_recall.py`` computes them: a set's manifold is the union of balls around its
features reaching each one's ``nhood_size``-th nearest neighbour; precision is the share of generated
features inside the real manifold, recall the share of real features inside the generated one."""
import numpy as np

NHOOD_SIZE = 3  # NVIDIA's pr50k3: the 3rd nearest neighbour


def _distances(rows, cols):
    """Euclidean distances (len(rows), len(cols)) in float64."""
    d2 = (rows * rows).sum(1)[:, None] + (cols * cols).sum(1)[None] - 2 * rows @ cols.T
    return np.sqrt(np.maximum(d2, 0))


def _coverage(manifold, probes, nhood_size, row_batch_size):
    """Share of ``probes`` within the ``nhood_size``-NN radius of some ``manifold`` feature."""
    # the (nhood_size + 1)-th smallest distance: each feature's distance to itself (0) comes first
    kth = np.concatenate([np.partition(_distances(manifold[i:i + row_batch_size], manifold), nhood_size, axis=1)
                          [:, nhood_size] for i in range(0, len(manifold), row_batch_size)])
    inside = np.concatenate([(_distances(probes[i:i + row_batch_size], manifold) <= kth).any(1)
                             for i in range(0, len(probes), row_batch_size)])
    return float(inside.mean())


def precision_recall(real_features, fake_features, nhood_size=NHOOD_SIZE, row_batch_size=1000):
    """(precision, recall). Features are rounded to float16 first, as NVIDIA stores them; distances are
    float64 (NVIDIA's are float16 on the GPU, so the two can differ where distances tie within that precision).
    ``row_batch_size`` only bounds memory."""
    real, fake = (np.asarray(f, np.float16).astype(np.float64) for f in (real_features, fake_features))
    if min(len(real), len(fake)) <= nhood_size:
        raise ValueError(f"precision/recall needs more than {nhood_size} images per set")
    return (_coverage(real, fake, nhood_size, row_batch_size), _coverage(fake, real, nhood_size, row_batch_size))

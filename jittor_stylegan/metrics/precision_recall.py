"""Improved precision and recall (Kynkaanniemi et al. 2019) of feature sets, as NVIDIA's
``metrics/precision_recall.py`` computes them: a set's manifold is the union of balls around its
features reaching each one's ``nhood_size``-th nearest neighbour; precision is the share of generated
features inside the real manifold, recall the share of real features inside the generated one.
Features are float16 and so are the distances, as NVIDIA's (its ``compute_distances``: ``torch.cdist`` of
float16 features), a batch of rows at a time."""
import numpy as np

NHOOD_SIZE = 3  # NVIDIA's pr50k3: the 3rd nearest neighbour
ROW_BATCH_SIZE = 1000  # rows of a distance matrix at a time: bounds memory (NVIDIA's 10,000 on a GPU), not results


def distances(rows, cols):
    """float16 Euclidean distances (len(rows), len(cols)) of float16 features, accumulated in float32."""
    rows, cols = (np.asarray(f, np.float32) for f in (rows, cols))
    d2 = (rows * rows).sum(1)[:, None] + (cols * cols).sum(1)[None] - 2 * rows @ cols.T
    return np.sqrt(np.maximum(d2, 0)).astype(np.float16)


def _coverage(manifold, probes, nhood_size, row_batch_size):
    """Share of ``probes`` within the ``nhood_size``-NN radius of some ``manifold`` feature."""
    # the (nhood_size + 1)-th smallest distance: each feature's distance to itself (0) comes first
    kth = np.concatenate([np.partition(distances(manifold[i:i + row_batch_size], manifold), nhood_size, axis=1)
                          [:, nhood_size] for i in range(0, len(manifold), row_batch_size)])
    inside = np.concatenate([(distances(probes[i:i + row_batch_size], manifold) <= kth).any(1)
                             for i in range(0, len(probes), row_batch_size)])
    return float(inside.mean())


def precision_recall(real_features, fake_features, nhood_size=NHOOD_SIZE, row_batch_size=ROW_BATCH_SIZE):
    """(precision, recall) of feature sets (N, D), rounded to float16 first as NVIDIA stores them."""
    real, fake = (np.asarray(f, np.float16) for f in (real_features, fake_features))
    if min(len(real), len(fake)) <= nhood_size:
        raise ValueError(f"precision/recall needs more than {nhood_size} images per set")
    return (_coverage(real, fake, nhood_size, row_batch_size), _coverage(fake, real, nhood_size, row_batch_size))

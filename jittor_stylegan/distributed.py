"""Training on several processes with Jittor's MPI (``mpirun -np N python train.py ...``).

Every rank draws the same global random inputs and data order, takes its own share of each
global batch (``share``), and averages what couples samples across ranks (``batch_mean``), so
that N processes compute what one process computes on the whole batch. Jittor's optimizers
average the gradients across ranks. Without ``mpirun`` (or without MPI) this is one process.
"""
import jittor as jt
import numpy as np


def rank():
    return jt.rank


def world_size():
    return jt.world_size


def is_main():
    """True in the process that writes files (rank 0, or the only one)."""
    return jt.rank == 0


def batch_mean(x):
    """``x.mean(dim=0, keepdims=True)`` over the global batch, each rank holding an equal share;
    differentiable to any order (the gradient of an all-reduce is an all-reduce)."""
    mean = x.mean(dim=0, keepdims=True)
    return mean.mpi_all_reduce("mean") if jt.world_size > 1 else mean


def any_rank(flag):
    """True on every rank when ``flag`` is true on any (a decision all ranks must take together)."""
    if jt.world_size == 1:
        return bool(flag)
    return bool(jt.array(np.array([float(flag)], np.float32)).mpi_all_reduce("add").item() > 0)


def mean_values(values):
    """The mean across ranks of every float in ``values`` (per-rank means of equal shares, so the
    global means); other entries (ints, None) are the same on every rank and pass as they are."""
    if jt.world_size == 1:
        return values
    keys = [k for k, v in values.items() if isinstance(v, float)]
    means = jt.array(np.array([values[k] for k in keys], np.float64)).mpi_all_reduce("mean").numpy()
    return dict(values, **{k: float(m) for k, m in zip(keys, means)})


def sum_values(values):
    """The sums across ranks of a list of numbers (float64; each rank's own list without MPI)."""
    if jt.world_size == 1:
        return list(values)
    return jt.array(np.array(values, np.float64)).mpi_all_reduce("add").numpy().tolist()


def barrier():
    if jt.world_size > 1:
        jt.mpi.mpi_barrier()


def share(batch, group=1, parts=1, what="batch", n=None, r=None):
    """Indices of this rank's share of a global batch of ``batch`` samples (``n`` processes and
    rank ``r``: default this process's).

    The batch is ``parts`` consecutive micro-batches (gradient accumulation). Each micro-batch of
    m samples is viewed row-major as (g, m / g) with g = min(m, ``group``) and rank r takes
    columns [r c, (r + 1) c), c = m / (g N): viewed the same way, its share of the micro-batch
    holds exactly the columns (StyleGAN 2's minibatch-stddev groups: samples b, b + m / g, ...)
    it holds in the global micro-batch. ``group=1``: plain consecutive slices.
    """
    n, r = (jt.world_size, jt.rank) if n is None else (n, r)
    if n == 1:
        return np.arange(batch)
    m = batch // parts
    g = min(m, group)
    if batch % parts or m % g or (m // g) % n:
        need = f"a multiple of {group * n}" if parts == 1 else f"{parts} micro-batches of a multiple of {group * n}"
        raise ValueError(f"{what} {batch} does not split evenly across {n} processes"
                         + (f" in whole groups of {group}" if group > 1 else "") + f": make it {need}")
    c = m // (g * n)
    layout = np.arange(batch).reshape(parts, g, n, c)
    return layout[:, :, r, :].reshape(-1)

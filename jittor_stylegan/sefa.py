"""Closed-form semantic directions (SeFa, Shen & Zhou 2021) as rosinality's ``closed_form_factorization.py``
computes them: the right singular vectors of the style projections' weights stacked (StyleGAN 2: every
``modulation`` weight but the ``to_rgbs``' ones; StyleGAN 1: the AdaIN style weights of the blocks up to the
image size), strongest first. Moving w along one changes what those layers see the most."""
import numpy as np


def style_weights(generator, size=None):
    """{name: (outputs, w_dim) array} of the weights SeFa factorises, in the generator's order."""
    state = generator.state_dict()
    if "generator.progression.0.adain1.style.linear.weight_orig" in state:  # StyleGAN 1
        blocks = generator.levels(size or generator.sizes()[-1])
        return {k: v.numpy() for k, v in state.items() if ".adain" in k and k.endswith("style.linear.weight_orig")
                and int(k.split(".")[2]) < blocks}
    return {k: v.numpy() for k, v in state.items() if "modulation" in k and "to_rgbs" not in k and "weight" in k}


def factorize(generator, size=None):
    """(eigvec (w_dim, w_dim): column k is direction k, singular values descending)."""
    weights = np.concatenate(list(style_weights(generator, size).values()), 0).astype(np.float64)
    _, singular, vh = np.linalg.svd(weights, full_matrices=False)
    return vh.T.astype(np.float32), singular


def save_factors(path, eigvec, singular, checkpoint):
    """``factors.npz``: ``eigvec`` (rosinality's key), the singular values and the checkpoint."""
    np.savez(path, eigvec=eigvec, singular_values=singular, checkpoint=str(checkpoint))
    return path


def load_factors(path, latent_dim):
    """The (latent_dim, k) directions of a ``factors.npz``; one that does not fit is a ValueError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            eigvec = np.asarray(data["eigvec"], np.float32)
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a factors.npz ({type(e).__name__}: {e})") from None
    if eigvec.ndim != 2 or eigvec.shape[0] != latent_dim:
        raise ValueError(f"{path}: directions of shape {eigvec.shape} do not fit a w of {latent_dim}")
    return eigvec

"""Image grids: arrays in [-1, 1] (N, C, H, W) -> PNG files, 1, 3 or 4 channels."""
import numpy as np
from PIL import Image

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def to_uint8(images):
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    return np.clip((np.asarray(images) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(images, n_col, padding=2, fill=0):
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 (H', W', C) array, row-major."""
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    n_row = -(-n // n_col)
    out = np.full((n_row * (h + padding) + padding, n_col * (w + padding) + padding, c), fill, np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, n_col)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y:y + h, x:x + w] = tile
    return out


def save_grid(images, path, n_col, padding=2):
    array = grid(images, n_col, padding)
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array, MODES[array.shape[2]]).save(path)
    return path

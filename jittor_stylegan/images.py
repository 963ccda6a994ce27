"""Image grids: arrays in [-1, 1] (N, C, H, W) -> PNG files, 1, 3 or 4 channels."""
import numpy as np
from PIL import Image

MODES = {1: "L", 3: "RGB", 4: "RGBA"}
# Grids of smaller images are written with each tile enlarged (nearest neighbour, an integer factor) to at
# least this many pixels, so a 32 px run's samples can be seen; ``raw=True`` keeps the native size.
MIN_TILE = 128


def upscale_factor(size):
    """The integer nearest-neighbour factor that brings a ``size`` px tile to at least MIN_TILE."""
    return max(1, -(-MIN_TILE // size))


def to_uint8(images):
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    return np.clip((np.asarray(images) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(images, n_col, padding=2, fill=0, raw=False):
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 (H', W', C) array, row-major; tiles under
    MIN_TILE px are enlarged unless ``raw``."""
    tiles = to_uint8(images)
    if not raw:
        factor = upscale_factor(max(tiles.shape[1:3]))
        tiles = tiles.repeat(factor, axis=1).repeat(factor, axis=2)
    n, h, w, c = tiles.shape
    n_row = -(-n // n_col)
    out = np.full((n_row * (h + padding) + padding, n_col * (w + padding) + padding, c), fill, np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, n_col)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y:y + h, x:x + w] = tile
    return out


def save_array(array, path):
    """Write a uint8 (H, W, C) array as a PNG to a path or a binary file object."""
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array, MODES[array.shape[2]]).save(path, format="PNG")
    return path


def save_grid(images, path, n_col, padding=2, raw=False):
    return save_array(grid(images, n_col, padding, raw=raw), path)


def rgb(array):
    """uint8 (..., C) with 1, 3 or 4 channels -> (..., 3), for video frames."""
    return array.repeat(3, axis=-1) if array.shape[-1] == 1 else array[..., :3]

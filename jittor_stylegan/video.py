"""mp4 / AVI writing with OpenCV: training-progress videos from sample folders, and frame arrays."""
import os
import re

import cv2
import numpy as np

from .runs import frame_labels

# The codec by file extension: AVI as StyleGanJittor wrote it (a Motion JPEG AVI plays everywhere), else mp4.
FOURCC = {".avi": "MJPG"}


class VideoError(Exception):
    """Bad video input: the message says what is wrong."""


def numbered_pngs(folder):
    """PNG files of a folder sorted by the number in their names (000100.png < 001000.png)."""
    if not os.path.isdir(folder):
        raise VideoError(f"not a folder: {folder}")
    files = [f for f in os.listdir(folder) if f.lower().endswith(".png") and re.search(r"\d+", f)]
    if not files:
        raise VideoError(f"no numbered PNG files in {folder}")
    return [os.path.join(folder, f) for f in sorted(files, key=lambda f: int(re.findall(r"\d+", f)[-1]))]


def last_width(folder):
    """The width of a folder's last numbered frame."""
    return cv2.imread(numbered_pngs(folder)[-1], cv2.IMREAD_COLOR).shape[1]


def write_mp4(frames, path, fps=10, labels=None):
    """Write RGB uint8 frames (H, W, 3) to an mp4 (an AVI when ``path`` ends in .avi); optional text
    label per frame."""
    frames = list(frames)
    if not frames:
        raise VideoError("no frames to write")
    h, w = frames[0].shape[:2]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FOURCC.get(os.path.splitext(path)[1].lower(), "mp4v")), fps, (w, h))
    if not writer.isOpened():
        raise VideoError(f"OpenCV cannot write {path}")
    try:
        for i, frame in enumerate(frames):
            if frame.shape[:2] != (h, w):
                raise VideoError(f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, the first is {w}x{h}")
            bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
            if labels is not None:
                scale = max(0.4, h / 400)
                cv2.putText(bgr, str(labels[i]), (5, h - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                            max(2, int(3 * scale)), cv2.LINE_AA)
                cv2.putText(bgr, str(labels[i]), (5, h - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                            max(1, int(scale)), cv2.LINE_AA)
            writer.write(bgr)
    finally:
        writer.release()
    return path


def folder_to_mp4(folder, path, fps=10, label=False, size=None):
    """Sample folder -> mp4, frames in numeric order; all frames must share a size unless
    ``size`` (the output width) is given: then every frame is resized to that width and the
    first frame's aspect ratio (grids of a progressive run differ slightly in aspect)."""
    files = numbered_pngs(folder)
    frames = [cv2.cvtColor(cv2.imread(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for f in files]
    shapes = {f.shape[:2] for f in frames}
    if size is None and len(shapes) > 1:
        raise VideoError(f"{folder} mixes frame sizes {sorted(shapes)}; pass --size to resize them")
    if size is not None:
        height = round(size * frames[0].shape[0] / frames[0].shape[1])
        frames = [cv2.resize(f, (size, height), interpolation=cv2.INTER_AREA) for f in frames]
    labels = frame_labels(files, os.path.dirname(os.path.normpath(folder))) if label else None
    return write_mp4(frames, path, fps, labels)

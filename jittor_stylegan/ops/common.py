"""What every op checks, how float64 code spells constants, and casts at use (mixed precision)."""
import jittor as jt


def scalar(value, like):
    """``value`` as a constant of ``like``'s dtype: Jittor makes Python floats float32 constants
    even against float64 tensors (0.6 becomes 0.6 + 2.4e-8), so float64 code spells its constants."""
    return jt.array(value, dtype=like.dtype)


def cast(x, dtype):
    """x as ``dtype``, x itself when it already is (float32 weights used by float16 layers)."""
    return x if x.dtype == dtype else x.cast(dtype)


def check_dtype(x, op):
    """float16 (computed in float32, stored in float16 on either device), float32 or float64."""
    if x.dtype not in (jt.float16, jt.float32, jt.float64):
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}")

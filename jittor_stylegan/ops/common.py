"""What every op checks and how float64 code spells constants."""
import jittor as jt


def scalar(value, like):
    """``value`` as a constant of ``like``'s dtype: Jittor makes Python floats float32 constants
    even against float64 tensors (0.6 becomes 0.6 + 2.4e-8), so float64 code spells its constants."""
    return jt.array(value, dtype=like.dtype)


def check_dtype(x, op):
    if x.dtype == jt.float16 and not jt.flags.use_cuda:
        raise TypeError(f"{op}: float16 needs CUDA; on CPU use float32 or float64")
    if x.dtype not in (jt.float16, jt.float32, jt.float64):
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}")

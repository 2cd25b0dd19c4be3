r"""The arithmetic of a convolution's window, shared by both twins: output sizes, TensorFlow's padding, the checks.

A window of ``k`` pixels slides over ``size`` pixels in steps of ``stride``. TensorFlow's two paddings:

* ``"valid"``: no padding; the window stays inside, :math:`\lceil (\text{size} - k + 1) / s \rceil` outputs.
* ``"same"``: :math:`\lceil \text{size} / s \rceil` outputs, and just enough zeros around the image for the
  last window to fit: :math:`p = \max((\text{out} - 1)s + k - \text{size}, 0)` in all, :math:`\lfloor p/2
  \rfloor` before and the rest after (so an odd total puts the extra zero after, at the bottom or right).

Both :mod:`scratch.conv` and :mod:`tfimpl.conv` read their geometry from here, so they pad alike.
"""

from __future__ import annotations

from .errors import UserError

__all__ = ["PADDINGS", "check_conv", "check_pool", "window"]

PADDINGS = ("same", "valid")


def window(size: int, k: int, stride: int, padding: str) -> tuple[int, int, int]:
    """``(out, pad_before, pad_after)`` for a window of ``k`` sliding over ``size`` pixels, TensorFlow's way."""
    if padding == "valid":
        return (size - k) // stride + 1, 0, 0
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def check_conv(x_shape: tuple, w_shape: tuple, stride, padding) -> None:
    """Refuse, in one line, a convolution that does not fit: NHWC images, ``(kh, kw, c_in, c_out)`` kernels."""
    if padding not in PADDINGS:
        raise UserError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise UserError(f"stride must be a whole number >= 1, got {stride!r}")
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise UserError(
            f"a convolution takes images (N, H, W, C) and a kernel (kh, kw, c_in, c_out), got {x_shape} and {w_shape}"
        )
    if x_shape[3] != w_shape[2]:
        raise UserError(f"the images have {x_shape[3]} channels but the kernel expects {w_shape[2]}")
    if padding == "valid" and (w_shape[0] > x_shape[1] or w_shape[1] > x_shape[2]):
        raise UserError(
            f"a {w_shape[0]}x{w_shape[1]} kernel does not fit in a {x_shape[1]}x{x_shape[2]} image "
            "with padding 'valid'; use a smaller kernel or padding 'same'"
        )


def check_pool(x_shape: tuple) -> None:
    """Refuse an input a 2x2 max-pool cannot halve: it needs (N, H, W, C) with H and W at least 2."""
    if len(x_shape) != 4 or x_shape[1] < 2 or x_shape[2] < 2:
        raise UserError(f"2x2 max-pooling needs (N, H, W, C) with H, W >= 2, got {x_shape}")

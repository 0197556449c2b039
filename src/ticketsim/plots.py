"""Matplotlib without a display: a new figure, and a finished figure as PNG bytes.

The training plots (loss curve, token lengths) share them, so each is drawn headless (Agg)
at the same size and resolution and no figure is left open.
"""

from __future__ import annotations

import io
from typing import Any


def figure(size: tuple[float, float] = (6, 3.5)) -> tuple[Any, Any]:
    """(figure, axes) on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def png(fig: Any) -> bytes:
    """The figure as PNG (100 dpi, tight layout); the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()

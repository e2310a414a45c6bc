"""What the three widgets share: how a figure becomes an image, sizes, error lines.

**Figures are shown as PNG images** in ``ipywidgets.Image`` widgets: a background
thread (the training panel's) can update an Image safely, which it cannot do with an
Output widget. The figures are plain :class:`matplotlib.figure.Figure` objects (not
pyplot's), so nothing piles up in pyplot's list of open figures, and each widget keeps
its last figure for saving or inspecting.

**Everything fits a notebook's output area** (about 1,000 px wide in JupyterLab):
a figure is at most :data:`FIGURE_WIDTH_IN` wide at :data:`DPI` (940 px), a row of
controls at most :data:`ROW_WIDTH_PX`, and an image shrinks with a narrower output
(``max_width="100%"``) rather than being cut off.
"""

from __future__ import annotations

import io
import threading

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

from gridppo.config.fields import ConfigError, first_line

__all__ = ["DPI", "FIGURE_WIDTH_IN", "ROW_WIDTH_PX"]

# matplotlib is not thread-safe: build and render one figure at a time.
DRAW_LOCK = threading.RLock()
# Figures are rendered at 100 dpi: 8 pt text (the smallest we draw) is 11 px on screen.
DPI = 100
# The widest figure a widget shows, in inches: 940 px at DPI.
FIGURE_WIDTH_IN = 9.4
# The widest row of controls, in pixels (two columns of COLUMN_WIDTH_PX and a gap).
ROW_WIDTH_PX = 940
COLUMN_WIDTH_PX = 460
# Room for the controls' descriptions ("grid penalty weight"), left of each control.
DESCRIPTION_STYLE = {"description_width": "150px"}


def column_layout(width_px: int = COLUMN_WIDTH_PX) -> widgets.Layout:
    """A control's layout: ``width_px`` wide, never wider than the output area."""
    return widgets.Layout(width=f"{width_px}px", max_width="100%")


def row_layout(align_items: str = "center") -> widgets.Layout:
    """A row of controls that wraps onto a second line in an output narrower than it;
    ``align_items="flex-start"`` lines columns of different heights up at the top."""
    return widgets.Layout(flex_flow="row wrap", max_width="100%", align_items=align_items)


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image() -> widgets.Image:
    """An empty PNG image widget, hidden until it gets a figure, at most as wide as the
    output area (a wider figure is scaled down, not cut off)."""
    return widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="100%"))


def show(image: widgets.Image, fig: Figure) -> None:
    """Put ``fig`` into ``image`` (and make the image visible)."""
    image.value = png(fig)
    image.layout.display = None


def error_line(err: BaseException) -> str:
    """An error as one line: a config error's own message, else its type and message."""
    if isinstance(err, ConfigError) or not str(err).strip():
        return first_line(err)
    return f"{type(err).__name__}: {first_line(err)}"


class Displayable:
    """Shows ``self.widget`` when the object is a notebook cell's last expression."""

    widget: widgets.Widget

    def _ipython_display_(self) -> None:
        display(self.widget)

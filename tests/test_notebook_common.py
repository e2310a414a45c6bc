"""What the widgets share: figures as images, sizes for a notebook, one-line errors."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure
from viz_helpers import png_width_px

from gridppo.config.fields import ConfigError
from gridppo.notebook.common import (
    COLUMN_WIDTH_PX,
    DPI,
    FIGURE_WIDTH_IN,
    ROW_WIDTH_PX,
    Displayable,
    column_layout,
    error_line,
    image,
    png,
    show,
)


def test_a_widget_figure_is_as_wide_as_a_row_of_controls():
    fig = Figure(figsize=(FIGURE_WIDTH_IN, 3.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    assert png_width_px(png(fig)) == round(FIGURE_WIDTH_IN * DPI) == ROW_WIDTH_PX
    assert 2 * COLUMN_WIDTH_PX <= ROW_WIDTH_PX  # two columns of controls fit a row


def test_an_image_is_hidden_until_it_gets_a_figure_and_never_wider_than_the_output():
    shown = image()
    assert shown.layout.display == "none" and shown.layout.max_width == "100%"
    fig = Figure(figsize=(2.0, 1.0))
    show(shown, fig)
    assert shown.layout.display is None
    assert png_width_px(shown.value) == 2 * DPI


def test_column_layout_is_bounded_by_the_output():
    layout = column_layout()
    assert layout.width == f"{COLUMN_WIDTH_PX}px" and layout.max_width == "100%"
    assert column_layout(300).width == "300px"


def test_error_line_is_one_line_with_the_type_unless_a_config_error():
    assert error_line(ConfigError("ppo.lrr: unknown key\nvalid keys: ...")) == (
        "ppo.lrr: unknown key"
    )
    assert error_line(ValueError("bad value\ntraceback details")) == "ValueError: bad value"
    assert error_line(RuntimeError()) == "RuntimeError"


def test_displayable_shows_its_widget(monkeypatch):
    shown = []
    monkeypatch.setattr("gridppo.notebook.common.display", shown.append)

    class Panel(Displayable):
        widget = widgets.Label("hello")

    Panel()._ipython_display_()
    assert shown == [Panel.widget]

"""``show(trace)``: a trace displayed where the code runs (the timeline in a notebook, its text repr
elsewhere). Its own module because it chooses between the output's mimebundle (``_display``) and
the zoomable widget (``_widget``, which uses ``_display``) for a file-backed trace."""

from __future__ import annotations

from typing import Any

from ._display import in_kernel, mimebundle, shown_from_file


def show(trace: Any) -> None:
    """Display ``trace``: the timeline in a notebook, its text repr elsewhere. A file-backed trace
    shown windowed (``shown_from_file``) is the zoomable windowed timeline (``TimelineWidget``: windows read
    from the file as the view moves) where widgets work, its calls never loaded."""
    try:
        from IPython.display import display
    except ImportError:
        print(repr(trace))
        return
    if not in_kernel():
        print(repr(trace))
        return
    if shown_from_file(trace):
        try:
            from ._widget import TimelineWidget
        except ImportError:  # no anywidget: the output's overview
            pass
        else:
            display(TimelineWidget(trace))
            return
    display(mimebundle(trace), raw=True)

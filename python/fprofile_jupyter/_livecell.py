"""The live timeline under a ``%%fprofile --live`` cell (or ``%fprofile start --live``): a
``TimelineWidget`` fed by ``_livewidget.Feed`` from the recording's streamed file, replaced by the
trace's ordinary output at the end, and the private file the cell records to when no ``-o X.fpt``
names one."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional, Tuple

from ._livewidget import WAITING, Feed, file_source


class CellView:
    """The live timeline under a ``%%fprofile --live`` cell (or ``%fprofile start --live``): a
    widget displayed under a display id, fed from the recording's streamed file; :meth:`finish`
    replaces it with ``final`` (a mimebundle) and closes the widget."""

    def __init__(self, path: str, scratch: Optional[str] = None) -> None:
        import secrets

        from IPython.display import display

        from ._widget import TimelineWidget

        self.scratch = scratch
        self.widget = TimelineWidget(error=WAITING, live=True)
        self.display_id = "fprofile-live-" + secrets.token_hex(8)
        bundle = self.widget._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        display(data, metadata=metadata, raw=True, display_id=self.display_id)
        self.feed = Feed(self.widget, file_source(path)).start()

    def finish(self, final: Optional[dict]) -> None:
        from IPython.display import update_display

        self.feed.stop()
        if final is not None:
            update_display(final, raw=True, display_id=self.display_id)
        self.widget.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def scratch_outfile() -> Tuple[str, str]:
    """A private folder (0700) and the streamed file a live cell records to when no ``-o X.fpt``
    names one: (folder, path); :meth:`CellView.finish` removes it."""
    folder = tempfile.mkdtemp(prefix="fprofile-live-")
    return folder, os.path.join(folder, "live.fpt")

"""Finished outputs kept on disk, not in the stand-in's memory: Replicate serves outputs from its
delivery hosts for an hour, and a 30 x 40 batch makes 1,230 of them (about 60 MB of PNG that
would otherwise sit in this process for that hour). One file per output in a private folder,
removed when the store closes; reads go through the page cache."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path


class OutputSpool:
    def __init__(self) -> None:
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def _dir(self) -> Path:
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="standin-outputs-"))
            return self._folder

    def put(self, prediction_id: str, data: bytes) -> Path:
        """Writes one output (prediction ids are the stand-in's own: safe as file names)."""
        path = self._dir() / prediction_id
        path.write_bytes(data)
        return path

    @staticmethod
    def read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError:  # removed by close()
            return None

    def close(self) -> None:
        with self._lock:
            folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

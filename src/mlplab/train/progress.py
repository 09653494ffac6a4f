"""A progress bar callback: tqdm on a terminal, plain periodic lines otherwise (CI, pipes)."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from mlplab.train.callbacks import Callback


class ProgressBar(Callback):
    """Show training progress on ``stream`` (default stderr).

    On a terminal: a tqdm bar over epochs with the latest loss and accuracy. Elsewhere:
    one line at most every ``interval`` seconds (and one at the end), so logs stay short.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        interval: float = 2.0,
        force_tty: bool | None = None,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.force_tty = force_tty

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._out = self.stream if self.stream is not None else sys.stderr
        tty = (
            self.force_tty
            if self.force_tty is not None
            else (hasattr(self._out, "isatty") and self._out.isatty())
        )
        self._bar = None
        self._t0 = self._last = time.monotonic()
        if tty:
            from tqdm.auto import tqdm

            total = getattr(self.trainer, "planned_epochs", None)
            self._bar = tqdm(
                total=total,
                file=self._out,
                unit="epoch",
                leave=True,
                dynamic_ncols=True,
            )

    @staticmethod
    def _fmt(logs: dict[str, Any]) -> str:
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs]
        return " ".join(f"{k}={logs[k]:.4f}" for k in keys)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(self._fmt(logs), refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            print(
                f"epoch {epoch + 1}: {self._fmt(logs)} ({now - self._t0:.1f}s)",
                file=self._out,
                flush=True,
            )
        self._final = (epoch, dict(logs))

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            return
        final = getattr(self, "_final", None)
        if final is not None:
            epoch, elogs = final
            print(
                f"epoch {epoch + 1}: {self._fmt(elogs)} (done in "
                f"{time.monotonic() - self._t0:.1f}s)",
                file=self._out,
                flush=True,
            )

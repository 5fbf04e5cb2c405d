"""A one-line progress display for the long scripts (suite.py, bench/run_bench.py).

On a terminal, `Progress` keeps one status line on stderr up to date — what is being done, how
much of it is done, the time so far and an estimate of the time left — and clears it when done.
In scripts (stderr not a terminal, or quiet=True: the scripts' --quiet) it prints nothing, so logs
hold only the scripts' own lines. Safe to call from several threads.

    prog = Progress("suite: running", total=len(jobs), quiet=args.quiet)
    for job in jobs:
        ...
        prog.advance(detail=f"{failed} failed")
    prog.close()
"""

import os
import sys
import threading
import time


def interactive(quiet=False, stream=None):
    """True when progress should be shown: not quiet, and the stream is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def fmt_secs(s):
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    def __init__(self, label, total=None, quiet=False, stream=None, min_interval=0.2):
        self.label = label
        self.total = total
        self.done = 0
        self.detail = ""
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(quiet, self.stream)
        self.t0 = time.monotonic()
        self.min_interval = min_interval
        self._last = 0.0
        self._width = 0
        self._lock = threading.Lock()
        self._ticker = None
        self._stop = threading.Event()

    def elapsed(self):
        return time.monotonic() - self.t0

    def _line(self):
        el = self.elapsed()
        parts = [self.label]
        if self.total:
            parts.append(f"{self.done}/{self.total}")
            if 0 < self.done < self.total:
                parts.append(f"{fmt_secs(el)}, about {fmt_secs(el / self.done * (self.total - self.done))} left")
            else:
                parts.append(fmt_secs(el))
        else:
            parts.append(fmt_secs(el))
        if self.detail:
            parts.append(self.detail)
        line = "  ".join(parts)
        try:
            cols = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, AttributeError, ValueError):
            cols = 0
        if cols <= 0:  # a terminal that does not know its size
            cols = 100
        return line[:max(20, cols - 1)]

    def _draw(self, force=False):
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.min_interval):
            return
        self._last = now
        line = self._line()
        pad = " " * max(0, self._width - len(line))
        self.stream.write("\r" + line + pad)
        self.stream.flush()
        self._width = len(line)

    def _clear(self):
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def update(self, done=None, detail=None):
        with self._lock:
            if done is not None:
                self.done = done
            if detail is not None:
                self.detail = detail
            self._draw(force=self.total is not None and self.done == self.total)

    def advance(self, n=1, detail=None):
        with self._lock:
            self.done += n
            if detail is not None:
                self.detail = detail
            self._draw(force=self.total is not None and self.done == self.total)

    def note(self, msg):
        """Prints msg (a line of the script's own output, to stdout) without garbling the status."""
        with self._lock:
            self._clear()
            print(msg, flush=True)
            self._draw(force=True)

    def tick(self, every=1.0):
        """Redraws every `every` seconds from a background thread (for long single steps)."""
        if not self.enabled or self._ticker:
            return self

        def run():
            while not self._stop.wait(every):
                with self._lock:
                    self._draw(force=True)
        self._ticker = threading.Thread(target=run, daemon=True)
        self._ticker.start()
        return self

    def close(self):
        self._stop.set()
        if self._ticker:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            self._clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

"""One trainer per run folder: an advisory lock that dies with its process."""

import datetime
import fcntl
import json
import os
import pathlib
import socket
import sys

LOCK_FILE = "train.lock"


class RunFolderInUse(RuntimeError):
    """Another live process is training in this run folder."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but alive
        return True
    return True


class RunLock:
    """Holds `DIRECTORY/train.lock` while a run trains there.

    The lock is an `flock` on the file, so the kernel releases it when its process
    dies however it dies; the file itself only names the holder (pid, host, start
    time, command) for the message a second trainer gets. A file left by a dead
    process is taken over and reported through `report`.

    Args:
        directory: the run folder (created if missing).
        report: called with a line of text when a dead holder's lock is taken over.

    Example:

    >>> import tempfile
    >>> from keras_vcd.training import RunLock
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):  # a second trainer on the same folder is refused
    ...     RunLock(folder).acquire()  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    RunFolderInUse: The run folder ... is in use by process ...
    """

    def __init__(self, directory, report=None):
        self.path = pathlib.Path(directory) / LOCK_FILE
        self.report = report or (lambda line: print(line, file=sys.stderr))
        self._file = None

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(handle)
            handle.close()
            raise RunFolderInUse(
                f"The run folder {self.path.parent} is in use by process {holder}. Wait for "
                "it to finish or stop it, or train in another output folder."
            ) from None
        previous = self._read(handle)
        if previous.get("pid") and not (previous.get("host") == socket.gethostname()
                                         and _alive(previous["pid"])):
            self.report(f"Took over {self.path}, left by process {previous['pid']} "
                        "which is no longer running.")
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                       timespec="seconds"),
                   "command": " ".join(sys.argv)}, handle)
        handle.flush()
        self._file = handle
        return self

    def release(self):
        if self._file is not None:
            # Emptied, not deleted: deleting would let a third process lock a new
            # file while a second still waits on this one.
            self._file.truncate(0)
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    @staticmethod
    def _read(handle):
        handle.seek(0)
        try:
            return json.loads(handle.read() or "{}")
        except ValueError:
            return {}

    def _holder(self, handle):
        holder = self._read(handle)
        if not holder:
            return "(unknown: its lock file is empty)"
        return (f"{holder.get('pid')} on {holder.get('host')}, started "
                f"{holder.get('started')}: `{holder.get('command')}`")

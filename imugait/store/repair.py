"""Who writes a session file, and what a writer that died leaves behind.

* **Write marks.** A recording killed with ``kill -9`` leaves a valid file (SWMR keeps the
  file consistent at every flush), but its superblock still says "open for write / SWMR
  write". HDF5 then refuses every open except a SWMR read ("file is already open for write
  (may use <h5clear file> ...)"). :func:`clear_write_flags` does what ``h5clear -s`` does —
  reset the consistency-flags byte of a version 2/3 superblock and recompute its checksum —
  without the HDF5 command-line tools. Nothing else in the file is touched.
* **Identity.** Every writer stamps :func:`writer_identity` (host, pid, process start time,
  boot id, command) into the file; :func:`identity_alive` tells whether that process still
  runs (a pid reused by another program after a crash or a reboot does not count).
* **Locks.** Every writer holds :class:`SessionLock` (``flock`` on ``FILE.h5.lock``, released
  by the kernel when the process dies) while it writes; a second writer is refused with
  :func:`busy_sentence`, and the next holder removes the temporary files
  (``FILE.h5.<tag>-<pid>@<host>``) a killed writer left.

Superblock v2/v3 layout (HDF5 file format specification, section II.A)::

    signature(8) version(1) size_of_offsets(1) size_of_lengths(1) consistency_flags(1)
    base_address(O) superblock_extension_address(O) end_of_file_address(O)
    root_group_object_header_address(O) checksum(4)

The checksum is Bob Jenkins' lookup3 ``hashlittle`` with initial value 0.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import struct
import sys
import time
from pathlib import Path

import h5py

from imugait.errors import ImugaitError, file_write_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, identity checks only
    fcntl = None  # type: ignore[assignment]

SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` (the checksum HDF5 uses for metadata)."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _MASK
    i = 0
    while length > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _MASK
        # mix
        a = (a - c) & _MASK; a ^= _rot(c, 4); c = (c + b) & _MASK
        b = (b - a) & _MASK; b ^= _rot(a, 6); a = (a + c) & _MASK
        c = (c - b) & _MASK; c ^= _rot(b, 8); b = (b + a) & _MASK
        a = (a - c) & _MASK; a ^= _rot(c, 16); c = (c + b) & _MASK
        b = (b - a) & _MASK; b ^= _rot(a, 19); a = (a + c) & _MASK
        c = (c - b) & _MASK; c ^= _rot(b, 4); b = (b + a) & _MASK
        length -= 12
        i += 12
    if length == 0:
        return c
    tail = data[i:] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    # final
    c ^= b; c = (c - _rot(b, 14)) & _MASK
    a ^= c; a = (a - _rot(c, 11)) & _MASK
    b ^= a; b = (b - _rot(a, 25)) & _MASK
    c ^= b; c = (c - _rot(b, 16)) & _MASK
    a ^= c; a = (a - _rot(c, 4)) & _MASK
    b ^= a; b = (b - _rot(a, 14)) & _MASK
    c ^= b; c = (c - _rot(b, 24)) & _MASK
    return c


def _find_superblock(fh) -> int:
    for off in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
        fh.seek(off)
        if fh.read(8) == SIGNATURE:
            return off
    raise ValueError("no HDF5 superblock signature found")


def superblock_info(path) -> dict:
    """version, consistency flags (v2/v3, else None) and stored end-of-file address
    (v2/v3, else None) of an HDF5 file's superblock."""
    with open(path, "rb") as fh:
        off = _find_superblock(fh)
        fh.seek(off + 8)
        version, size_off, _sl, flags = fh.read(4)
        if version not in (2, 3):
            return {"version": version, "flags": None, "eof": None, "offset": off}
        fields = fh.read(4 * size_off)
        eof = int.from_bytes(fields[2 * size_off:3 * size_off], "little")
        return {"version": version, "flags": flags, "eof": eof + off, "offset": off}


def read_consistency_flags(path) -> int | None:
    """The superblock's consistency flags (v2/v3), or None for older superblocks."""
    with open(path, "rb") as fh:
        off = _find_superblock(fh)
        fh.seek(off + 8)
        version, _so, _sl, flags = fh.read(4)
        return flags if version in (2, 3) else None


def clear_write_flags(path) -> bool:
    """Reset the "open for write" flags (like ``h5clear -s``). Returns True if changed.

    Call only when no process is writing the file. Verifies the old checksum first so a
    damaged superblock is never "repaired" into something else.
    """
    path = Path(path)
    with open(path, "r+b") as fh:
        off = _find_superblock(fh)
        fh.seek(off)
        head = fh.read(12)
        version, size_off = head[8], head[9]
        if version not in (2, 3):
            return False
        body_len = 12 + 4 * size_off
        fh.seek(off)
        body = fh.read(body_len)
        (stored,) = struct.unpack("<I", fh.read(4))
        if lookup3(body) != stored:
            raise ValueError("superblock checksum does not match; not touching the file")
        if body[11] == 0:
            return False
        new = bytearray(body)
        new[11] = 0
        fh.seek(off)
        fh.write(bytes(new) + struct.pack("<I", lookup3(bytes(new))))
        fh.flush()
        os.fsync(fh.fileno())
    return True


# -- who writes a file: identity and liveness ---------------------------------------------------
#
# A recording keeps its file in HDF5 SWMR mode, and HDF5 does not hold a file lock on a SWMR
# file (it releases it once the file is open), so a file left by a killed recorder cannot be
# told from a live one by HDF5 alone. The writer therefore stamps its identity into the file
# (root attributes ``writer_*``) and holds an advisory lock on ``FILE.h5.lock``
# (:class:`imugait.store.writer.SessionLock`) while it writes. A file whose write marks are set
# belongs to a *live* writer when its lock is held, or when the identity names a process that
# still runs on this machine (same boot, same pid, same process start time — a pid reused by
# another program after a crash does not count).

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This machine's boot id (Linux), "" elsewhere. A reboot ends every writer."""
    try:
        with open(BOOT_ID_PATH) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def process_start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux /proc), or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except (OSError, ValueError):
        return None
    try:  # the command name may contain spaces and parentheses: split after the last ')'
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def host_name() -> str:
    return socket.gethostname()


def writer_identity(command: str = "") -> dict:
    """Identity of this process as a file writer (stored as root attributes ``writer_*``)."""
    pid = os.getpid()
    return {"writer_host": host_name(), "writer_pid": pid,
            "writer_pid_start_ticks": int(process_start_ticks(pid) or -1),
            "writer_boot_id": boot_id(), "writer_command": str(command or "")}


def _pid_exists(pid: int) -> bool | None:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return None
    return True


def identity_alive(ident: dict) -> bool | None:
    """Is the process named by a writer identity still running? True / False / None
    (cannot tell: another machine, or this system has no process start times)."""
    try:
        pid = int(ident.get("writer_pid", -1))
    except (TypeError, ValueError):
        return None
    host = str(ident.get("writer_host", "") or "")
    if pid <= 0 or not host or host != host_name():
        return None
    bid = str(ident.get("writer_boot_id", "") or "")
    if bid and boot_id() and bid != boot_id():
        return False  # the machine rebooted since
    exists = _pid_exists(pid)
    if exists is not True:
        return exists
    try:
        start = int(ident.get("writer_pid_start_ticks", -1))
    except (TypeError, ValueError):
        start = -1
    now = process_start_ticks(pid)
    if start >= 0 and now is not None:
        return now == start  # a different start time: the pid was reused
    return True


def describe_writer(ident: dict) -> str:
    """"imugait record (pid 123 on host lab-pc)" — for messages."""
    cmd = str(ident.get("writer_command", "") or "").strip()
    who = f"pid {ident.get('writer_pid', '?')} on host {ident.get('writer_host', '?')}"
    return f"{cmd} ({who})" if cmd else who


def cleared_image(data: bytes) -> bytes:
    """A copy of an HDF5 file's bytes with the write marks cleared (for reading a file whose
    writer died when the file itself cannot be changed). Same checks as
    :func:`clear_write_flags`."""
    off = next((o for o in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
                if data[o:o + 8] == SIGNATURE), None)
    if off is None:
        raise ValueError("no HDF5 superblock signature found")
    version, size_off = data[off + 8], data[off + 9]
    if version not in (2, 3):
        return data
    body_len = 12 + 4 * size_off
    body = bytearray(data[off:off + body_len])
    (stored,) = struct.unpack("<I", data[off + body_len:off + body_len + 4])
    if lookup3(bytes(body)) != stored:
        raise ValueError("superblock checksum does not match")
    body[11] = 0
    return data[:off] + bytes(body) + struct.pack("<I", lookup3(bytes(body))) + data[off + body_len + 4:]


# -- locks: one writer per session file ----------------------------------------------------------

TEMP_TAGS = ("creating", "compact", "results", "recover", "rescued")
"""Temporary siblings ``run.h5.<tag>-<pid>@<host>`` in which new versions of ``run.h5`` are built."""


class SessionBusyError(ImugaitError):
    """Another program is writing the session file (a recording, an import, results)."""


LONG_PURPOSES = ("recorded", "imported")
"""Lock purposes of writers that keep a file for long (and, for a recording, in SWMR mode)."""


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def program_name() -> str:
    """"imugait record", "imugait analyze", ... — the command that runs, for messages."""
    argv = list(sys.argv or [""])
    prog = Path(argv[0]).name
    if prog == "__main__.py":  # python -m <package>
        prog = Path(argv[0]).parent.name
    elif prog in ("-c", ""):
        prog = "python"
    sub = next((a for a in argv[1:] if not a.startswith("-")), "")
    return f"{prog} {sub}".strip() if prog == "imugait" else prog


# -- temporary siblings and locks ------------------------------------------------------------

def temp_sibling(path, tag: str) -> Path:
    """``run.h5.<tag>-<pid>@<host>``: where a new version of ``run.h5`` is built."""
    path = Path(path)
    return path.with_name(f"{path.name}.{tag}-{os.getpid()}@{host_name().split('.')[0]}")


def remove_stale_temps(path) -> list[Path]:
    """Delete temporary siblings left by earlier writers of ``path`` (killed mid-way).
    Call only while holding the path's :class:`SessionLock`: every earlier writer held it,
    so whoever left them is gone."""
    path = Path(path)
    gone: list[Path] = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return gone
    for p in siblings:
        rest = p.name[len(path.name) + 1:] if p.name.startswith(path.name + ".") else ""
        if rest and any(rest == t or rest.startswith(t + "-") for t in TEMP_TAGS if t != "rescued"):
            try:
                p.unlink()
                gone.append(p)
            except OSError:
                pass
    return gone


def lock_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def lock_holder(path) -> dict | None:
    """Identity of the process that holds ``path``'s lock now (a dict, maybe empty when it
    has not written it yet), or None when nobody holds it. Never creates the lock file."""
    if fcntl is None:
        return None
    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
            except ValueError:
                return {}
        except OSError:
            return None  # locks not supported here
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class SessionLock:
    """Advisory lock ``FILE.h5.lock`` held by whoever writes ``FILE.h5``.

    The lock file holds the holder's identity (JSON) for messages. ``flock`` locks are
    released by the kernel when the holder dies, so a killed writer never blocks the next
    one; the next holder removes the dead writer's temporary files. Re-entrant within one
    object (``acquire`` twice, ``release`` twice). On systems without ``fcntl`` it only
    records the identity.
    """

    def __init__(self, path, purpose: str, command: str | None = None, wait_s: float = 0.5):
        # the real file: two links to one session share one lock
        self.path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
        self.purpose = purpose
        self.command = command if command is not None else program_name()
        self.wait_s = float(wait_s)
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: float | None = None) -> "SessionLock":
        """Take the lock; wait up to ``wait_s`` for another holder to finish a short change
        (results, compaction, recovery) — never for a recording or an import."""
        if self._fd is not None:
            self._depth += 1
            return self
        lp = lock_path(self.path)
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        probe_deadline = time.monotonic() + 0.5  # a reader's probe holds the lock for microseconds
        while True:
            try:
                fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise file_write_error(self.path, "be written" if self.path.exists() else "be created", e,
                                       "nothing was changed") from e
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
                except ValueError:
                    holder = {}
                os.close(fd)
                long_job = holder.get("purpose") in LONG_PURPOSES  # a recording: waiting is pointless
                if time.monotonic() < (min(deadline, probe_deadline) if long_job else deadline):
                    time.sleep(0.02)  # a reader probing the lock, or a short change finishing
                    continue
                raise SessionBusyError(busy_sentence(self.path, holder)) from None
            except OSError:  # file system without locks (some network shares): identity only
                break
            try:  # the previous holder may have removed the file between our open and flock
                same = os.fstat(fd).st_ino == os.stat(lp).st_ino
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        ident = writer_identity(self.command)
        ident.update(purpose=self.purpose, since_utc=utc_now_iso(), path=str(self.path))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(ident).encode(), 0)
        except OSError:
            pass  # the identity is for messages only
        self._fd = fd
        self._depth = 1
        remove_stale_temps(self.path)
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        try:
            lp = lock_path(self.path)
            if os.fstat(fd).st_ino == os.stat(lp).st_ino:
                lp.unlink()
        except OSError:
            pass
        os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def busy_sentence(path, holder: dict) -> str:
    purpose = holder.get("purpose") or "written"
    since = f" since {holder['since_utc']}" if holder.get("since_utc") else ""
    what = {"recorded": "being recorded", "imported": "being imported", "analysed": "getting analysis results",
            "compacted": "being closed and compacted", "repaired": "being repaired"}.get(purpose, f"being {purpose}")
    who = describe_writer(holder) if holder.get("writer_pid") else "another program"
    return (f"{path}: is {what} by {who}{since} — wait until it finishes "
            "(or stop it), or choose another file name")




# -- is anybody writing this file? ---------------------------------------------------------------

SWMR_WRITE_FLAG = 0x04
"""Superblock consistency flag: a SWMR writer has the file open (HDF5 format spec, II.A)."""

UNKNOWN_WRITER_STALE_S = 30.0
"""A write-marked file from a writer this machine cannot check (another host, no identity)
counts as still being written while it changed in the last 30 s, as abandoned after that."""

IDENTITY_ATTRS = ("writer_host", "writer_pid", "writer_pid_start_ticks", "writer_boot_id", "writer_command")


def identity_from_attrs(attrs) -> dict:
    """The ``writer_*`` root attributes of an open file (a dict; empty for old files)."""
    out = {}
    for k in IDENTITY_ATTRS:
        try:
            if k not in attrs:
                continue
            v = attrs[k]
        except Exception:  # noqa: BLE001 - a damaged attribute: not part of the identity
            continue
        out[k] = v.decode("utf-8", "replace") if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
    return out


def writer_alive(path, ident: dict) -> bool | None:
    """True: a live program writes ``path``; False: its writer is gone; None: cannot tell
    (callers treat it as live). The lock comes first (held by every imugait writer, released
    by the kernel when it dies), then the identity stored in the file, then — for a writer
    on another machine — whether the file changed in the last ``UNKNOWN_WRITER_STALE_S``."""
    holder = lock_holder(path)
    if holder is not None and holder.get("purpose", "recorded") in LONG_PURPOSES:
        return True  # (a holder that only repairs or stores results is not the file's writer)
    alive = identity_alive(ident)
    if alive is not None:
        return alive
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError:
        return None
    return None if age < UNKNOWN_WRITER_STALE_S else False


def hdf5_write_locked(path) -> bool:
    """Does a (non-SWMR) HDF5 writer hold its file lock on ``path`` right now?"""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def live_writer(path) -> dict | None:
    """Identity of the live program writing ``path`` (recording, import, results), else None.
    Never changes the file."""
    path = Path(path)
    holder = lock_holder(path)
    if holder is not None:
        return holder
    try:
        flags = superblock_info(path)["flags"] or 0
    except (OSError, ValueError):
        return None
    if not flags:
        return None
    if not flags & SWMR_WRITE_FLAG:
        return {} if hdf5_write_locked(path) else None
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            ident = identity_from_attrs(f.attrs)
    except (OSError, RuntimeError, ValueError):
        return None
    return ident if writer_alive(path, ident) is not False else None

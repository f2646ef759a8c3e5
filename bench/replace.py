#!/usr/bin/env python3
"""What replacing a small file durably costs on this disk, step by step, for the three ways
the modules do it (BENCHMARKS.md, "How the wall-time target was met"):

  new+rename      twofold before 2026-12-02: a new temp file, write, fsync, rename over the
                  file (which frees the old inode), fsync of the directory
  new+rename-ga   google-authenticator: the same without the directory fsync
  spare+exchange  twofold now: overwrite the kept temp file in place, fdatasync,
                  renameat2(RENAME_EXCHANGE) with the file, fsync of the directory

Each update starts with nothing pending in the filesystem's journal (sync() before it,
untimed), so none pays for another's deferred work. Prints medians and p10..p90 in ms.

  python3 bench/replace.py [DIR] [ROUNDS]     (DIR on the disk to measure; default /var/tmp)
"""
import ctypes
import os
import statistics
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
SYS_RENAMEAT2 = 316  # x86_64
RENAME_EXCHANGE = 2


def exchange(dfd, a, b):
    if libc.syscall(SYS_RENAMEAT2, dfd, a.encode(), dfd, b.encode(), RENAME_EXCHANGE):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    d = os.path.join(base, f"twofold-replace-{os.getpid()}")
    os.mkdir(d, 0o700)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    body = b"x" * 300  # a secret file is a few hundred bytes
    for name in ("a", "b", "c", ".c.tmp"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(body)
    os.sync()
    P = time.perf_counter

    def new_rename(name, tmp, dirsync):
        t = [P()]
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dfd)
        os.write(fd, body)
        t.append(P())
        os.fsync(fd)
        t.append(P())
        os.close(fd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        t.append(P())
        if dirsync:
            os.fsync(dfd)
        t.append(P())
        return t

    def spare_exchange():
        t = [P()]
        fd = os.open(".c.tmp", os.O_WRONLY, dir_fd=dfd)
        os.pwrite(fd, body, 0)
        t.append(P())
        os.fdatasync(fd)
        t.append(P())
        os.close(fd)
        exchange(dfd, ".c.tmp", "c")
        t.append(P())
        os.fsync(dfd)
        t.append(P())
        return t

    ways = {
        "new+rename": lambda: new_rename("a", ".a.tmp", True),
        "new+rename-ga": lambda: new_rename("b", ".b.tmp", False),
        "spare+exchange": spare_exchange,
    }
    steps = ["open+write", "(fdata)sync", "close+rename", "dir fsync", "total"]
    res = {k: [] for k in ways}
    try:
        for _ in range(rounds):
            for k, f in ways.items():
                os.sync()
                time.sleep(0.002)
                t = f()
                res[k].append([b - a for a, b in zip(t, t[1:])] + [t[-1] - t[0]])
    finally:
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)
    print(f"{rounds} updates each of a {len(body)}-byte file in {base}; median (p10..p90), ms")
    print(f"{'':16}" + "".join(f"{s:>22}" for s in steps))
    for k, rows in res.items():
        cells = []
        for j in range(len(steps)):
            x = sorted(r[j] * 1e3 for r in rows)
            cells.append(f"{statistics.median(x):.3f} ({x[len(x) // 10]:.2f}..{x[len(x) * 9 // 10]:.2f})")
        print(f"{k:16}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()

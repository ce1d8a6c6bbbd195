#!/usr/bin/env python3
"""clang-tidy over translation units, skipping those already known clean.

Called by scripts/lint.sh tidy (see docs/quality.md):

    tidy.py BUILD_DIR JOBS FILE...

Runs clang-tidy on each FILE that BUILD_DIR/compile_commands.json compiles,
JOBS at a time; exits 1 if any unit has a finding.

The cache: a unit's key is the sha256 of the clang-tidy version, the .clang-tidy files,
the unit's compile command, its preprocessed source (its own compile command
with -E, run by clang so the headers are the ones clang-tidy parses) and the
raw text of every repository file it includes. The raw text is there because
-E drops comments, and a NOLINT is a comment. A clean run records its key as
an empty file under $XDG_CACHE_HOME/upgate/tidy (default ~/.cache); a unit
whose key is recorded is skipped. Findings are never recorded. The repository
path is replaced by "." before hashing, so clones elsewhere share entries.
LINT_NO_CACHE=1 neither reads nor records.
"""

import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

CLANG_TIDY = os.environ.get("CLANG_TIDY", "clang-tidy-14")
# The preprocessor for the key: the clang that clang-tidy is built from.
CLANG = os.environ.get("CLANG", "clang++-14")
ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
CACHE_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "upgate", "tidy")
USE_CACHE = os.environ.get("LINT_NO_CACHE", "") in ("", "0")

# The checks: the root's, and the tests' own that narrows them.
CONFIGS = (".clang-tidy", "tests/.clang-tidy")

LINE_MARKER = re.compile(rb'^# \d+ "([^"]*)"', re.MULTILINE)


def normalize(data: bytes) -> bytes:
    return data.replace(ROOT.encode(), b".")


def preprocess_command(command: list[str]) -> list[str]:
    """The compile command with -E instead of -c, writing to stdout."""
    out = [CLANG]
    args = iter(command[1:])
    for arg in args:
        if arg in ("-o", "-MF", "-MT", "-MQ"):
            next(args, None)  # and its value
        elif arg in ("-c", "-MD", "-MMD"):
            continue
        else:
            out.append(arg)
    return out + ["-E", "-o", "-"]


def unit_key(entry: dict, prefix: bytes) -> str | None:
    """The cache key of one unit, or None when it cannot be preprocessed."""
    command = entry.get("arguments") or shlex.split(entry["command"])
    pp = subprocess.run(preprocess_command(command), cwd=entry["directory"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if pp.returncode != 0:
        return None
    h = hashlib.sha256(prefix)
    h.update(normalize(shlex.join(command).encode()) + b"\0")
    h.update(normalize(pp.stdout))
    # Our own files, comments included; system and Boost headers change only
    # with their packages, and then the preprocessed source changes too.
    included = {os.path.realpath(os.path.join(entry["directory"], m.decode()))
                for m in LINE_MARKER.findall(pp.stdout) if not m.startswith(b"<")}
    for path in sorted(p for p in included if p.startswith(ROOT + os.sep) and os.path.isfile(p)):
        with open(path, "rb") as f:
            h.update(b"\0" + path[len(ROOT):].encode() + b"\0" + f.read())
    return h.hexdigest()


def cache_path(key: str) -> str:
    return os.path.join(CACHE_DIR, key[:2], key)


def record_clean(key: str) -> None:
    os.makedirs(os.path.dirname(cache_path(key)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE_DIR)
    os.close(fd)
    os.replace(tmp, cache_path(key))


def tidy_unit(build_dir: str, path: str, entry: dict, prefix: bytes):
    """(path, status, output): status is "cached", "clean" or "findings"."""
    key = unit_key(entry, prefix) if USE_CACHE else None
    if key and os.path.exists(cache_path(key)):
        return path, "cached", ""
    run = subprocess.run([CLANG_TIDY, "-p", build_dir, "--quiet", path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # Less clang-tidy's count of the (suppressed) warnings in Boost and the system headers.
    output = re.sub(r"(?m)^\d+ warnings? generated\.\n", "", run.stdout.decode(errors="replace"))
    if run.returncode != 0 or re.search(r": (warning|error):", output):
        return path, "findings", output
    if key:
        record_clean(key)
    return path, "clean", ""


def main() -> int:
    build_dir, jobs, wanted = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        db = {os.path.realpath(e["file"]): e for e in json.load(f)}
    # The .cc files asked for that the build compiles (fuzz/ builds only with clang: not here).
    units = [f for f in wanted if f.endswith(".cc") and os.path.realpath(f) in db]
    # Largest first, so a long unit does not start last and leave the other jobs idle.
    units.sort(key=lambda f: -os.path.getsize(f))
    if not units:
        print("lint: no compiled .cc files to tidy")
        return 0
    prefix = b""
    if USE_CACHE:
        version = subprocess.run([CLANG_TIDY, "--version"], check=True,
                                 stdout=subprocess.PIPE).stdout
        h = hashlib.sha256(version)
        for config in CONFIGS:
            with open(os.path.join(ROOT, config), "rb") as f:
                h.update(b"\0" + config.encode() + b"\0" + f.read())
        prefix = h.digest()
    print(f"lint: clang-tidy on {len(units)} files, {jobs} at a time"
          + ("" if USE_CACHE else " (LINT_NO_CACHE: no cache)"), flush=True)
    start = time.monotonic()
    counts = {"cached": 0, "clean": 0, "findings": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = [pool.submit(tidy_unit, build_dir, u, db[os.path.realpath(u)], prefix)
                for u in units]
        for run in concurrent.futures.as_completed(runs):
            path, status, output = run.result()
            counts[status] += 1
            if output:
                print(output, end="" if output.endswith("\n") else "\n", flush=True)
            if status == "findings":
                print(f"lint: findings in {path}", flush=True)
    print(f"lint: tidy {counts['clean']} clean, {counts['cached']} clean in the cache, "
          f"{counts['findings']} with findings ({time.monotonic() - start:.0f} s)")
    return 1 if counts["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""clang-tidy over translation units, skipping those already known clean.

Called by scripts/lint.sh tidy (see docs/quality.md):

    tidy.py BUILD_DIR JOBS FILE...

Runs clang-tidy on each FILE that BUILD_DIR/compile_commands.json compiles,
JOBS at a time; exits 1 if any unit has a finding.

The cache: a unit's key is the sha256 of the clang-tidy version, the .clang-tidy files,
the unit's compile command and the text of every file the unit includes, system
headers too. The file list comes from the build's own dependency record
(`ninja -t deps`, written by the compiler while building), which costs nothing;
a unit not built yet falls back to its compile command with -E, run by clang
(about 1 s of CPU a unit, most of a warm run before). Raw text, not the
preprocessed source, because a NOLINT is a comment. A clean run records its key
as an empty file under $XDG_CACHE_HOME/upgate/tidy (default ~/.cache); a unit
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


def built_dependencies(build_dir: str) -> dict[str, list[str]]:
    """Object file -> the files its compile read, for units whose record is current."""
    run = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    deps: dict[str, list[str]] = {}
    current = None
    for line in run.stdout.decode(errors="replace").splitlines():
        if not line.strip():
            current = None
        elif not line.startswith(" "):
            target, _, state = line.partition(": #deps")
            current = deps.setdefault(target, []) if state.endswith("(VALID)") else None
        elif current is not None:
            current.append(line.strip())
    return deps


def object_of(command: list[str]) -> str | None:
    return next((command[i + 1] for i, a in enumerate(command[:-1]) if a == "-o"), None)


def preprocessed_files(command: list[str], directory: str) -> list[str] | None:
    """The files the unit includes, read off clang -E's line markers."""
    pp = subprocess.run(preprocess_command(command), cwd=directory,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if pp.returncode != 0:
        return None
    return [m.decode() for m in set(LINE_MARKER.findall(pp.stdout)) if not m.startswith(b"<")]


FILE_DIGESTS: dict[str, bytes] = {}


def file_digest(path: str) -> bytes:
    """sha256 of a file's text (b"" if unreadable); each file is read once per run."""
    if path not in FILE_DIGESTS:
        try:
            with open(path, "rb") as f:
                FILE_DIGESTS[path] = hashlib.sha256(normalize(f.read())).digest()
        except OSError:
            FILE_DIGESTS[path] = b""
    return FILE_DIGESTS[path]


def unit_files(entry: dict, deps: dict[str, list[str]]) -> list[str] | None:
    """The files one unit includes, or None when they cannot be listed."""
    command = entry.get("arguments") or shlex.split(entry["command"])
    files = deps.get(object_of(command) or "")
    return files if files is not None else preprocessed_files(command, entry["directory"])


def uses_coroutines(files: list[str] | None) -> bool:
    return files is not None and any(f.endswith("boost/asio/awaitable.hpp") for f in files)


def unit_key(entry: dict, prefix: bytes, files: list[str] | None) -> str | None:
    """The cache key of one unit, or None when its includes cannot be listed."""
    if files is None:
        return None
    command = entry.get("arguments") or shlex.split(entry["command"])
    h = hashlib.sha256(prefix)
    h.update(normalize(shlex.join(command).encode()) + b"\0")
    for path in sorted({os.path.realpath(os.path.join(entry["directory"], f)) for f in files}):
        h.update(normalize(path.encode()) + b"\0" + file_digest(path))
    return h.hexdigest()


def cache_path(key: str) -> str:
    return os.path.join(CACHE_DIR, key[:2], key)


def record_clean(key: str) -> None:
    os.makedirs(os.path.dirname(cache_path(key)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE_DIR)
    os.close(fd)
    os.replace(tmp, cache_path(key))


SYSTEM_INCLUDE = re.compile(r"#include <[^>]+>")


def only_system_includes(path: str) -> bool:
    """True for a unit with no code of ours: comments and #include <...> lines only.

    The src/*/asio_impl.cc units compile Boost's implementation; tidy reports
    nothing in Boost's headers, so on them it only spent time (25 s of CPU).
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        text = re.sub(r"//[^\n]*", "", f.read())
    return all(SYSTEM_INCLUDE.fullmatch(line.strip()) for line in text.splitlines() if line.strip())


def tidy_unit(build_dir: str, path: str, entry: dict, prefix: bytes, deps: dict[str, list[str]]):
    """(path, status, output): status is "cached", "clean", "nothing" or "findings"."""
    if only_system_includes(path):
        return path, "nothing", ""
    files = unit_files(entry, deps)
    key = unit_key(entry, prefix, files) if USE_CACHE else None
    if key and os.path.exists(cache_path(key)):
        return path, "cached", ""
    # The static analyzer skips units with Asio coroutines: clang 14's analyzer
    # does not model coroutines, and these units were the costliest to analyze
    # (src/http/server.cc: 30 of its 49 s). ASan, UBSan and the fuzzers cover
    # them; the units without coroutines keep the analyzer.
    checks = ["--checks=-clang-analyzer-*"] if uses_coroutines(files) else []
    run = subprocess.run([CLANG_TIDY, "-p", build_dir, "--quiet", *checks, path],
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
    prefix, deps = b"", built_dependencies(build_dir)
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
    counts = {"cached": 0, "clean": 0, "nothing": 0, "findings": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = [pool.submit(tidy_unit, build_dir, u, db[os.path.realpath(u)], prefix, deps)
                for u in units]
        for run in concurrent.futures.as_completed(runs):
            path, status, output = run.result()
            counts[status] += 1
            if output:
                print(output, end="" if output.endswith("\n") else "\n", flush=True)
            if status == "findings":
                print(f"lint: findings in {path}", flush=True)
    print(f"lint: tidy {counts['clean']} clean, {counts['cached']} clean in the cache, "
          f"{counts['nothing']} with no code of ours (not run), "
          f"{counts['findings']} with findings ({time.monotonic() - start:.0f} s)")
    return 1 if counts["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs docs/tutorial.md end to end, from the page itself, so that the tutorial cannot drift.

  run_tutorial.py BUILD [--doc docs/tutorial.md] [--keep]
  run_tutorial.py --extract NAME [--doc docs/tutorial.md]   print the page's `test: file NAME` block

The page marks its code blocks with HTML comments (invisible when rendered) on the line before
the block's opening fence:
  <!-- test: file NAME -->   the block is written to NAME (relative to the shell's current folder)
  <!-- test: run -->         the block (```sh) is run with bash -euo pipefail
  <!-- test: run in-source --> the same, starting in the dycl source folder (the folder the shell
                             was in stays the current one for the next block)
  <!-- test: expect -->      every line of the block must appear, as a substring and in order, in
                             the output of the run block just before it ("..." lines are skipped;
                             "..." within a line stands for any text)
  <!-- test: skip REASON --> the block is not run (a REASON is required)
Every ```sh block must carry a marker, so that no command of the tutorial goes untested.

The run blocks share one shell state: environment variables exported and the current folder carry
over from one block to the next. The shell starts in HOME, set to a fresh temporary folder (the tutorial installs into $HOME/.local and works in $HOME), BUILD set to
the build folder under test (the top-level Makefile's `make install` installs from it) and
`python3` meaning Debian's /usr/bin/python3 (PyTorch, onnx, numpy).
Last line: `tutorial: N passed, M failed` (blocks run or checked).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARK_RE = re.compile(r"^<!--\s*test:\s*(file|run|expect|skip)\b\s*(.*?)\s*-->\s*$")
FENCE_RE = re.compile(r"^(```+)\s*([\w+-]*)")


class DocError(Exception):
    pass


def parse(text, doc):
    """[(kind, arg, lang, body, line)] for the marked blocks; checks every sh block is marked."""
    lines = text.splitlines()
    blocks = []
    pending = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = MARK_RE.match(line)
        if m:
            if pending:
                raise DocError(f"{doc}:{pending[2]}: marker not followed by a code block")
            pending = (m.group(1), m.group(2), i + 1)
            i += 1
            continue
        f = FENCE_RE.match(line)
        if f:
            fence, lang = f.group(1), f.group(2)
            j = i + 1
            while j < len(lines) and not lines[j].startswith(fence):
                j += 1
            if j == len(lines):
                raise DocError(f"{doc}:{i + 1}: code block never closed")
            body = "\n".join(lines[i + 1:j]) + "\n"
            if pending:
                kind, arg, _ = pending
                if kind in ("file",) and not arg:
                    raise DocError(f"{doc}:{i}: `test: file` needs a file name")
                if kind == "skip" and not arg:
                    raise DocError(f"{doc}:{i}: `test: skip` needs a reason")
                if kind == "run" and arg not in ("", "in-source"):
                    raise DocError(f"{doc}:{i}: unknown `test: run` argument '{arg}'")
                if kind == "run" and lang not in ("sh", "bash", "shell"):
                    raise DocError(f"{doc}:{i + 1}: `test: run` on a ```{lang} block")
                blocks.append((kind, arg, lang, body, i + 1))
            elif lang in ("sh", "bash", "shell"):
                raise DocError(f"{doc}:{i + 1}: ```{lang} block without a `<!-- test: ... -->` marker")
            pending = None
            i = j + 1
            continue
        if pending and line.strip():
            raise DocError(f"{doc}:{pending[2]}: marker not followed by a code block")
        i += 1
    if pending:
        raise DocError(f"{doc}:{pending[2]}: marker at the end of the page")
    return blocks


def line_matches(want, line):
    """want's pieces between '...' occur in line, in order."""
    pos = 0
    for piece in want.split("..."):
        piece = piece.strip()
        at = line.find(piece, pos)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def expect_ok(expected, output):
    """Every line of expected (but a '...' line) matches, in order, one of output's lines: as a
    substring, where '...' inside a line stands for anything. Returns the first line not found."""
    out_lines = output.splitlines()
    k = 0
    for want in expected.splitlines():
        w = want.strip()
        if not w or w == "...":
            continue
        while k < len(out_lines) and not line_matches(w, out_lines[k]):
            k += 1
        if k == len(out_lines):
            return w
        k += 1
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", help="the build folder (its dycl and libdycl.so are installed)")
    ap.add_argument("--extract", metavar="NAME", help="print the block the page saves as NAME, and exit")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "tutorial.md"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run block")
    a = ap.parse_args()
    if not a.extract and not a.build:
        ap.error("BUILD is required")
    with open(a.doc, encoding="utf-8") as f:
        text = f.read()
    try:
        blocks = parse(text, os.path.relpath(a.doc, ROOT))
    except DocError as e:
        print(f"tutorial: error: {e}")
        print("tutorial: 0 passed, 1 failed")
        return 1
    if a.extract:
        found = [body for kind, arg, _, body, _ in blocks if kind == "file" and arg == a.extract]
        if len(found) != 1:
            print(f"tutorial: error: {len(found)} blocks saved as '{a.extract}' in {a.doc}", file=sys.stderr)
            return 1
        sys.stdout.write(found[0])
        return 0
    build = os.path.abspath(a.build)
    if not any(k == "run" for k, *_ in blocks):
        print("tutorial: error: no `<!-- test: run -->` block in the page")
        print("tutorial: 0 passed, 1 failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="dycl-tutorial-")
    home = os.path.join(tmp, "home")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(home)
    os.makedirs(bindir)
    os.symlink("/usr/bin/python3", os.path.join(bindir, "python3"))
    state = os.path.join(tmp, "state.sh")
    cwd_file = os.path.join(tmp, "cwd")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "CMAKE_PREFIX_PATH", "DESTDIR",
                        "PREFIX", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(HOME=home, BUILD=build, PATH=bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    with open(state, "w") as f:
        f.write("")
    with open(cwd_file, "w") as f:
        f.write(home)
    passed = failed = 0
    last_out = None
    t_all = time.monotonic()
    for kind, arg, lang, body, line in blocks:
        where = f"{os.path.relpath(a.doc, ROOT)}:{line}"
        if kind == "skip":
            continue
        with open(cwd_file) as f:
            cwd = f.read().strip()
        if kind == "file":
            path = home + arg[1:] if arg.startswith("~/") else os.path.join(cwd, arg)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
            print(f"[{where}] wrote {os.path.relpath(path, home) if path.startswith(home) else path}")
            passed += 1
            continue
        if kind == "expect":
            if last_out is None:
                print(f"FAIL [{where}] expect block with no run block before it")
                failed += 1
                continue
            missing = expect_ok(body, last_out)
            if missing:
                print(f"FAIL [{where}] the output lacks: {missing}")
                failed += 1
            else:
                passed += 1
            continue
        if arg == "in-source":  # run in the source folder, then come back to where the shell was
            start, save_cwd = f"cd '{ROOT}'", ""
        else:
            start, save_cwd = f"cd \"$(cat '{cwd_file}')\"", f"pwd > '{cwd_file}'"
        script = f"set -euo pipefail\nsource '{state}'\n{start}\n{body}\nexport -p > '{state}'\n{save_cwd}\n"
        print(f"[{where}] $ " + "\n    ".join(body.rstrip().splitlines()), flush=True)
        t0 = time.monotonic()
        try:
            p = subprocess.run(["bash", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=a.timeout)
            out, rc = p.stdout.decode("utf-8", "replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode("utf-8", "replace"), None
        secs = time.monotonic() - t0
        last_out = out
        shown = out.rstrip().splitlines()
        for ln in shown[-25:] if rc == 0 else shown[-80:]:
            print(f"    | {ln}")
        if rc == 0:
            passed += 1
            print(f"    ok ({secs:.1f} s)")
        else:
            failed += 1
            print(f"FAIL [{where}] " + ("timed out" if rc is None else f"exit status {rc}") + f" after {secs:.1f} s")
            break  # later blocks depend on this one
    if a.keep:
        print(f"tutorial: kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"tutorial: {time.monotonic() - t_all:.1f} s")
    print(f"tutorial: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

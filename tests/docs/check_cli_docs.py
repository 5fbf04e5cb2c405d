#!/usr/bin/python3
"""Checks that docs/cli.md and the man page docs/dycl.1 match `dycl <command> --help`.

  check_cli_docs.py DYCL

For the commands listed by `dycl --help` and for each command's options (the `options:` block of
`dycl <command> --help`):
  - docs/cli.md has a section `## \\`dycl <command>\\`` and the man page a `.SS dycl <command>`;
  - every option of the --help is documented in both (cli.md: a list item starting with the
    option in backquotes; dycl.1: the line after a `.TP`);
  - every option documented in them is in the --help (so that a removed option leaves the docs);
  - the man page's version (.TH) is `dycl --version`'s.
Last line: `cli docs: N passed, M failed` (one check per command and document, plus the version).
"""

import re
import subprocess
import sys
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPT_RE = re.compile(r"^\s{2}--?[A-Za-z0-9]")


def run(dycl, *args):
    p = subprocess.run([dycl, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"`dycl {' '.join(args)}` exited with {p.returncode}: {p.stderr.strip()[:200]}")
    return p.stdout


def help_commands(text):
    """Command names of the `commands:` block of `dycl --help`."""
    cmds, on = [], False
    for line in text.splitlines():
        if line.strip() == "commands:":
            on = True
            continue
        if on:
            if not line.strip():
                break
            cmds.append(line.split()[0])
    return cmds


def help_options(text):
    """Option spellings (`-o`, `--help`, ...) of the `options:` block of a command's help."""
    opts, on = set(), False
    for line in text.splitlines():
        if line.strip() == "options:":
            on = True
            continue
        if on:
            if not line.strip():
                break
            if OPT_RE.match(line):  # the option column: up to the first gap of two spaces
                column = re.split(r"\s{2,}", line.strip())[0]
                opts.update(t for t in re.split(r"[\s,]+", column) if re.match(r"^--?[A-Za-z0-9]", t))
    return opts


def md_sections(text):
    """{command: set of options} from docs/cli.md."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^## `dycl (\w+)`\s*$", line)
        if m:
            cur = out.setdefault(m.group(1), set())
            continue
        if line.startswith("## "):
            cur = None
            continue
        if cur is not None:
            m = re.match(r"^- (`-[^`]+`(?:,\s*`-[^`]+`)*)", line)
            if m:
                for item in re.findall(r"`(-[^`]+)`", m.group(1)):
                    cur.add(item.split()[0])
    return out


def man_sections(text):
    """{command: set of options} from docs/dycl.1 (the line after each .TP in a `.SS dycl X`)."""
    out, cur, after_tp = {}, None, False
    for line in text.splitlines():
        m = re.match(r'^\.SS\s+"?dycl (\w+)"?\s*$', line)
        if m:
            cur = out.setdefault(m.group(1), set())
            after_tp = False
            continue
        if line.startswith(".SH") or line.startswith(".SS"):
            cur = None
            continue
        if cur is None:
            continue
        if line.startswith(".TP"):
            after_tp = True
            continue
        if after_tp:
            after_tp = False
            plain = re.sub(r"^\.[A-Z]+\s*", "", line).replace("\\-", "-").replace('"', " ")
            for tok in plain.replace(",", " ").split():
                if tok.startswith("-"):
                    cur.add(tok)
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: check_cli_docs.py DYCL", file=sys.stderr)
        return 2
    dycl = sys.argv[1]
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what}")

    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        md = md_sections(f.read())
    with open(os.path.join(ROOT, "docs", "dycl.1"), encoding="utf-8") as f:
        man_text = f.read()
    man = man_sections(man_text)
    cmds = help_commands(run(dycl, "--help"))
    check(len(cmds) >= 1, "`dycl --help` lists no commands")
    for cmd in cmds:
        want = help_options(run(dycl, cmd, "--help"))
        check(bool(want), f"`dycl {cmd} --help` has no options block")
        for doc, got in (("docs/cli.md", md), ("docs/dycl.1", man)):
            if cmd not in got:
                check(False, f"{doc}: no section for `dycl {cmd}`")
                continue
            missing, extra = sorted(want - got[cmd]), sorted(got[cmd] - want)
            why = []
            if missing:
                why.append(f"options of `dycl {cmd} --help` not documented: {' '.join(missing)}")
            if extra:
                why.append(f"documented options not in `dycl {cmd} --help`: {' '.join(extra)}")
            check(not why, f"{doc}, dycl {cmd}: " + "; ".join(why))
    for doc, got in (("docs/cli.md", md), ("docs/dycl.1", man)):
        for cmd in sorted(set(got) - set(cmds)):
            check(False, f"{doc} documents `dycl {cmd}`, which `dycl --help` does not list")
    version = run(dycl, "--version").split()[1]
    m = re.search(r'^\.TH\s+\S+\s+\S+\s+"[^"]*"\s+"dycl ([^"]+)"', man_text, re.M)
    check(bool(m) and m.group(1) == version,
          f"docs/dycl.1: .TH names version {m.group(1) if m else '?'}, dycl --version says {version}")
    print(f"cli docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

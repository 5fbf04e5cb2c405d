"""docs/python.md runs as written: its ```python blocks, in order, in one namespace, in a scratch folder
holding a link to the source tree's models/; a ```text block right after a python block is what that
block must print (line by line; `...` in a line matches anything)."""

import contextlib
import io
import os
import re
import sys
import types
import unittest

from _common import ROOT, work_dir

DOC = os.path.join(ROOT, "docs", "python.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def blocks(text):
    """[(python_code, expected_output_or_None, line_number)]: line_number is the block's first code line."""
    res = []
    found = list(FENCE.finditer(text))
    for i, m in enumerate(found):
        if m.group(1) != "python":
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1].group(1) == "text" and not text[m.end():found[i + 1].start()].strip():
            expected = found[i + 1].group(2)
        res.append((m.group(2), expected, text.count("\n", 0, m.start()) + 2))
    return res


def as_module_source(text, bs):
    """The doc with everything but its python blocks blanked: a Python file whose line numbers are the doc's
    (TorchScript reads the source of the classes it compiles, so the code must be in a real file)."""
    lines = [""] * (text.count("\n") + 1)
    for code, _, line in bs:
        for k, ln in enumerate(code.splitlines()):
            lines[line - 1 + k] = ln
    return "\n".join(lines) + "\n"


def line_matches(pattern, line):
    rx = ".*".join(re.escape(p) for p in pattern.split("..."))
    return re.fullmatch(rx, line) is not None


class Docs(unittest.TestCase):
    def test_python_md(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        bs = blocks(text)
        self.assertGreaterEqual(len(bs), 8)
        scratch = work_dir("docs")
        os.symlink(os.path.join(ROOT, "models"), os.path.join(scratch, "models"))
        src = os.path.join(scratch, "python_md.py")
        with open(src, "w", encoding="utf-8") as f:
            f.write(as_module_source(text, bs))
        module = types.ModuleType("python_md")
        module.__file__ = src
        sys.modules["python_md"] = module
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            for code, expected, line in bs:
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    # compiled as lines `line`... of python_md.py, which are lines `line`... of the doc
                    exec(compile("\n" * (line - 1) + code, src, "exec"), module.__dict__)  # noqa: S102
                if expected is None:
                    continue
                got = out.getvalue().splitlines()
                want = expected.splitlines()
                with self.subTest(block_at_line=line):
                    self.assertEqual(len(got), len(want), f"docs/python.md:{line} printed:\n{out.getvalue()}")
                    for g, w in zip(got, want):
                        self.assertTrue(line_matches(w, g), f"docs/python.md:{line}: printed {g!r}, the doc says {w!r}")
        finally:
            os.chdir(cwd)
            del sys.modules["python_md"]


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/python3
"""Checks the relative links of README.md and docs/*.md: every [text](target) and ![alt](image)
that is not a URL must name an existing file, and a #fragment must name a heading (or an
<a id="...">) of the page it points to.
Last line: `links: N passed, M failed`.
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK_RE = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def anchors(path):
    """GitHub-style anchors of a markdown file's headings, and explicit <a id> anchors."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    out = set(re.findall(r'<a id="([^"]+)"', text))
    for h in re.findall(r"^#{1,6}\s+(.*?)\s*$", text, flags=re.M):
        a = h.strip().lower()
        a = re.sub(r"[^\w\- ]", "", a)
        out.add(a.replace(" ", "-"))
    return out


def main():
    pages = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    passed = failed = 0
    for page in pages:
        with open(page, encoding="utf-8") as f:
            text = re.sub(r"```.*?```", "", f.read(), flags=re.S)  # code is not links
        for target in LINK_RE.findall(text):
            if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                continue
            file_part, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(page), file_part)) if file_part else page
            where = f"{os.path.relpath(page, ROOT)}: ({target})"
            if not os.path.exists(dest):
                failed += 1
                print(f"FAIL {where}: no such file")
                continue
            if frag and dest.endswith(".md") and frag not in anchors(dest):
                failed += 1
                print(f"FAIL {where}: no heading '#{frag}' in {os.path.relpath(dest, ROOT)}")
                continue
            passed += 1
    print(f"links: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())

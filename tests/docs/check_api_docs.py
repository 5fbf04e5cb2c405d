#!/usr/bin/python3
"""Checks that docs/c_api.md covers include/dycl/dycl.h and names nothing that is not in it.

  check_api_docs.py

- every function, type and struct field the header declares is named in docs/c_api.md (in
  backquotes);
- every `dycl_...` identifier docs/c_api.md names in backquotes (outside its code blocks) is
  declared in the header.
Last line: `api docs: N passed, M failed` (one check per declaration and per name in the page).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_names(text):
    """(functions, types, fields) declared by the header."""
    code = strip_comments(text)
    funcs = set(re.findall(r"\b(dycl_[a-z0-9_]+)\s*\(", code))
    funcs |= set(re.findall(r"\(\s*\*\s*(dycl_[a-z0-9_]+)\s*\)\s*\(", code))  # function pointer typedefs
    types = set(re.findall(r"\b(dycl_[a-z0-9_]+_t)\b", code))
    funcs -= types
    fields = set()
    for body in re.findall(r"typedef struct dycl_[a-z0-9_]+\s*\{(.*?)\}", code, flags=re.S):
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            m = re.search(r"\(\s*\*\s*([a-z_][a-z0-9_]*)\s*\)\s*\(", decl)  # function pointer member
            if not m:
                m = re.search(r"([a-z_][a-z0-9_]*)\s*(\[[^\]]*\])?\s*$", decl)
            if m:
                fields.add(m.group(1))
    return funcs, types, fields


def doc_names(text):
    """Backquoted spans of the page outside fenced code blocks, split into identifiers."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    idents = set()
    for span in re.findall(r"`([^`]+)`", text):
        if "::" in span:  # CMake target names (dycl::dycl_static), not C
            continue
        idents |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return idents


def main():
    with open(os.path.join(ROOT, "include", "dycl", "dycl.h"), encoding="utf-8") as f:
        header = f.read()
    with open(os.path.join(ROOT, "docs", "c_api.md"), encoding="utf-8") as f:
        page = f.read()
    funcs, types, fields = header_names(header)
    named = doc_names(page)
    passed = failed = 0
    if not funcs or not types or not fields:
        print("FAIL could not read the declarations of include/dycl/dycl.h")
        failed += 1
    for kind, names in (("function", funcs), ("type", types), ("struct field", fields)):
        for n in sorted(names):
            if n in named:
                passed += 1
            else:
                failed += 1
                print(f"FAIL docs/c_api.md does not name the {kind} `{n}` of dycl.h")
    declared = funcs | types
    for n in sorted(x for x in named if x.startswith("dycl_")):
        if n in declared:
            passed += 1
        else:
            failed += 1
            print(f"FAIL docs/c_api.md names `{n}`, which dycl.h does not declare")
    print(f"api docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

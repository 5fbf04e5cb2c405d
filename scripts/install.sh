#!/usr/bin/env bash
# `make install` / `make uninstall` (see the top-level Makefile).
#
#   scripts/install.sh install BUILD PREFIX     cmake --install BUILD --prefix PREFIX, then records
#                                               what it installed in
#                                               PREFIX/share/dycl/install_manifest.txt
#   scripts/install.sh uninstall PREFIX         removes exactly what that manifest lists: the files,
#                                               the Python byte code made from the installed .py
#                                               files, and the folders the install created (when
#                                               they are empty)
# Both honour DESTDIR (staged installs): files go to DESTDIR/PREFIX, the manifest's paths are
# relative to PREFIX.
#
# The manifest has one entry a line: `f PATH` for a file or link dycl installed, `d PATH` for a
# folder that did not exist before dycl's first install into this prefix.
set -euo pipefail

usage() {
  echo "usage: scripts/install.sh install BUILD PREFIX | uninstall PREFIX" >&2
  exit 2
}
fail() {
  echo "dycl install: error: $*" >&2
  exit 1
}
MANIFEST=share/dycl/install_manifest.txt

[ $# -ge 1 ] || usage
case "$1" in
  install)
    [ $# -eq 3 ] || usage
    build=$2
    prefix=$3
    ;;
  uninstall)
    [ $# -eq 2 ] || usage
    prefix=$2
    ;;
  *) usage ;;
esac
case "$prefix" in
  /*) ;;
  *) fail "PREFIX must be an absolute path, not '$prefix'" ;;
esac
prefix=${prefix%/}
dest="${DESTDIR:-}${prefix}"

if [ "$1" = install ]; then
  [ -f "$build/cmake_install.cmake" ] || fail "'$build' is not a configured build folder (run make first)"
  # A dry run into a scratch folder tells which files and folders the install makes.
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  DESTDIR="$stage" cmake --install "$build" --prefix "$prefix" >/dev/null
  [ -d "$stage$prefix" ] || fail "cmake --install installed nothing"
  old_dirs=""
  if [ -f "$dest/$MANIFEST" ]; then
    old_dirs=$(sed -n 's/^d //p' "$dest/$MANIFEST")
  fi
  new_manifest="$stage/manifest"
  {
    (cd "$stage$prefix" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort |
      sed 's/^/f /')
    echo "f $MANIFEST"
    # folders: those this install creates, and those an earlier dycl install created
    { (cd "$stage$prefix" && find . -mindepth 1 -type d | sed 's|^\./||'); dirname "$MANIFEST"; dirname "$(dirname "$MANIFEST")"; } |
      LC_ALL=C sort -u |
      while IFS= read -r d; do
        if [ ! -d "$dest/$d" ] || printf '%s\n' "$old_dirs" | grep -Fxq -- "$d"; then echo "d $d"; fi
      done
  } >"$new_manifest"
  DESTDIR="${DESTDIR:-}" cmake --install "$build" --prefix "$prefix"
  mkdir -p "$dest/$(dirname "$MANIFEST")"
  cp "$new_manifest" "$dest/$MANIFEST"
  echo "dycl: installed into ${dest} ($(grep -c '^f ' "$new_manifest") files; make uninstall PREFIX=$prefix removes them)"
  exit 0
fi

# uninstall
[ -f "$dest/$MANIFEST" ] || fail "no dycl installation recorded in $dest ($MANIFEST is missing)"
entries=$(cat "$dest/$MANIFEST")
n=0
while IFS= read -r line; do
  kind=${line%% *}
  path=${line#* }
  case "$path" in
    "" | /* | ..* | */../* | */..) fail "bad entry in $dest/$MANIFEST: '$line'" ;;
  esac
  [ "$kind" = f ] || continue
  if [ -e "$dest/$path" ] || [ -L "$dest/$path" ]; then
    rm -f -- "$dest/$path"
    n=$((n + 1))
  fi
  case "$path" in
    *.py) # byte code Python wrote beside an installed module
      base=$(basename "$path" .py)
      rm -f -- "$dest/$(dirname "$path")/__pycache__/$base".*.pyc
      rmdir -- "$dest/$(dirname "$path")/__pycache__" 2>/dev/null || true
      ;;
  esac
done <<<"$entries"
# folders, deepest first, when empty
printf '%s\n' "$entries" | sed -n 's/^d //p' | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- |
  while IFS= read -r d; do rmdir -- "$dest/$d" 2>/dev/null || true; done
echo "dycl: removed $n files from $dest"

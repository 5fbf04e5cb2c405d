#!/bin/sh
# A compiler wrapper that shares compiled objects between packages (the compile tests build many
# packages that hold the same runtime sources):
#   CC="tests/compile/cc_cache.sh CACHE_DIR gcc" make -C PKG
# A `-c SRC -o OBJ` compile is keyed by the preprocessed source and the flags; a hit copies the
# object from CACHE_DIR, a miss compiles and stores it and appends SRC to CACHE_DIR/misses.
# Anything else (links) runs the compiler as is.
cache=$1
shift
cc=$1
shift
src=
obj=
prev=
compile=
for a in "$@"; do
  case "$prev" in -o) obj=$a ;; esac
  case "$a" in
    -c) compile=1 ;;
    *.c) src=$a ;;
  esac
  prev=$a
done
if [ -z "$compile" ] || [ -z "$src" ] || [ -z "$obj" ]; then
  exec $cc "$@"
fi
# the flags without -c SRC -o OBJ, for the preprocessor and the key
pp_args=
prev=
for a in "$@"; do
  if [ "$prev" = "-o" ] || [ "$a" = "-o" ] || [ "$a" = "-c" ] || [ "$a" = "$src" ]; then
    prev=$a
    continue
  fi
  pp_args="$pp_args $a"
  prev=$a
done
# gcc with -g writes the working directory into the preprocessed text (a `# 1 "CWD//"` line): it is
# left out of the key, or no two packages would share an object (it only names the debug info's
# compilation directory)
key=$( { echo "$cc $pp_args"; $cc $pp_args -E "$src" 2>/dev/null || echo "preprocessing failed $$"; } |
  grep -vxF "# 1 \"$(pwd -P)//\"" | sha256sum | cut -c1-40)
mkdir -p "$cache"
if [ -f "$cache/$key.o" ]; then
  touch "$cache/$key.o" # recently used: kept by run_compile_tests.py's pruning
  cp "$cache/$key.o" "$obj"
  exit 0
fi
$cc "$@" || exit $?
echo "$src" >> "$cache/misses" # a line per miss: run_compile_tests.py checks the runtime's sources hit
cp "$obj" "$cache/$key.o.tmp.$$" && mv -f "$cache/$key.o.tmp.$$" "$cache/$key.o"
exit 0

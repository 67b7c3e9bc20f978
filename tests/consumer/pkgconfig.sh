#!/usr/bin/env bash
# Builds a program against an installed vae with pkg-config alone, as a Make
# or Meson user would, and runs it (ctest: consumer_pkgconfig).
# Usage: pkgconfig.sh CMAKE BUILD_DIR WORK_DIR CXX BLAS ZLIB
#   installs BUILD_DIR into WORK_DIR/prefix, compiles tests/consumer/pkgconfig.cpp
#   with `CXX pkgconfig.cpp $(pkg-config --cflags --libs vae)` and runs it;
#   BLAS and ZLIB (ON or OFF) say what vae's build has, which the program
#   must report.
set -euo pipefail
cmake=$1 build=$2 work=$3 cxx=$4 blas=$5 zlib=$6
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name vae.pc)
if [[ -z $pc ]]; then
  echo "consumer_pkgconfig: the install wrote no vae.pc under $work/prefix" >&2
  exit 1
fi

export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs vae)
echo "pkg-config --cflags --libs vae: $flags"
# The flags name the installed headers, not the source tree.
if [[ $flags != *"-I$work/prefix/"* ]]; then
  echo "consumer_pkgconfig: the flags do not name the installed include folder" >&2
  exit 1
fi

# $flags unquoted: one word per flag, as in a Makefile.
# shellcheck disable=SC2086
"$cxx" -O2 -o "$work/consumer" "$here/pkgconfig.cpp" $flags
if ! out=$("$work/consumer" "$work"); then
  echo "$out"
  echo "consumer_pkgconfig: the program failed" >&2
  exit 1
fi
echo "$out"
expected="blas $blas, zlib $zlib"
if [[ $out != *"$expected" ]]; then
  echo "consumer_pkgconfig: expected the program to report '$expected' (vae's build)" >&2
  exit 1
fi
echo "consumer_pkgconfig: passed"

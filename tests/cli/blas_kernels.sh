#!/usr/bin/env bash
# vae::use_native_blas_kernels end to end, on tests/blas_kernels_probe:
# started without OPENBLAS_CORETYPE, the program ends up on kernels that are
# no fallback (re-executed with the CPU's best when OpenBLAS fell back, its
# arguments kept); started with OPENBLAS_CORETYPE set, it keeps the user's
# choice, even an old one.
# Usage: blas_kernels.sh PROBE_BINARY
set -euo pipefail
probe=$1
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}
field() {  # name line
  sed -nE "s/.*(^| )$1=([^ ]*).*/\\2/p" <<< "$2"
}

plain=$(env -u OPENBLAS_CORETYPE "$probe" "two words")
echo "without OPENBLAS_CORETYPE: $plain"
[[ $plain == *" arg=two words" ]] || fail "the argument did not survive: $plain"
core=$(field core "$plain")
best=$(field cpu_best "$plain")
if [[ -z $core ]]; then
  echo "SKIP: built without OpenBLAS, nothing to choose"
  echo "1 passed, 0 failed"
  exit 0
fi
[[ $(field fallback "$plain") == 0 ]] || fail "still on fallback kernels ($core) on a CPU that runs $best"
coretype=$(field coretype "$plain")
[[ $coretype == unset || $coretype == "$best" ]] || fail "OPENBLAS_CORETYPE is $coretype, expected unset or $best"
[[ $coretype == unset ]] && echo "OpenBLAS chose $core itself" || echo "re-executed with OPENBLAS_CORETYPE=$best"

forced=$(OPENBLAS_CORETYPE=Prescott "$probe")
echo "with OPENBLAS_CORETYPE=Prescott: $forced"
[[ $(field coretype "$forced") == Prescott ]] || fail "the user's OPENBLAS_CORETYPE was replaced: $forced"
if [[ $(field core "$forced") == Prescott && $best != "" ]]; then
  [[ $(field fallback "$forced") == 1 ]] || fail "Prescott on a CPU that runs $best is not reported as a fallback"
fi

if ((failed)); then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"

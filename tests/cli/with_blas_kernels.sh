#!/usr/bin/env bash
# Runs a command on one of OpenBLAS's kernel sets, after checking that the
# CPU can run it and that OpenBLAS then really loads it:
#   environment  OPENBLAS_CORETYPE as the environment has it: skipped (77)
#                when that is unset or a set named below, whose own entry
#                makes the same run;
#   unset        without OPENBLAS_CORETYPE (OpenBLAS's own choice);
#   NAME         OPENBLAS_CORETYPE=NAME: Prescott (SSE3), Haswell and Zen
#                (AVX2 + FMA), SkylakeX (AVX-512).
# A set the CPU cannot run, or one this OpenBLAS does not have (Zen in some
# builds), is skipped with exit code 77; so is every forced set in a build
# without OpenBLAS. A set OpenBLAS silently replaces by another fails.
# Usage: with_blas_kernels.sh PROBE_BINARY MODE COMMAND [ARG...]
#   PROBE_BINARY: tests/blas_kernels_probe (prints core=... cpu_best=...).
set -euo pipefail
probe=$1 mode=$2
shift 2
field() {  # name line
  sed -nE "s/.*(^| )$1=([^ ]*).*/\\2/p" <<< "$2"
}
case $mode in
  environment)
    # Unset, or one of the sets forced below: the same run as that entry, made once.
    given=${OPENBLAS_CORETYPE-unset}
    case ${given,,} in
      unset | prescott | haswell | zen | skylakex)
        echo "SKIP: OPENBLAS_CORETYPE is ${OPENBLAS_CORETYPE:-not set}: the ${OPENBLAS_CORETYPE:-unset} entry makes this run"
        exit 77 ;;
    esac
    ;;
  unset) unset OPENBLAS_CORETYPE ;;
  *)
    best=$(field cpu_best "$(env -u OPENBLAS_CORETYPE "$probe")")
    runs=1
    case ${mode,,} in
      prescott) [[ $(uname -m) == x86_64 ]] || runs=0 ;;
      haswell | zen) [[ $best == Haswell || $best == SkylakeX ]] || runs=0 ;;
      skylakex) [[ $best == SkylakeX ]] || runs=0 ;;
      *) echo "with_blas_kernels.sh: unknown kernel set '$mode'" >&2; exit 2 ;;
    esac
    if ((!runs)); then
      echo "SKIP: this CPU (best OpenBLAS kernels: ${best:-none known}) cannot run the $mode kernels"
      exit 77
    fi
    export OPENBLAS_CORETYPE=$mode
    ;;
esac
line=$("$probe")
core=$(field core "$line")
echo "kernels: $line"
if [[ $mode != environment && $mode != unset ]]; then
  if [[ -z $core ]]; then
    echo "SKIP: built without OpenBLAS: there are no kernel sets to choose"
    exit 77
  fi
  if [[ ${core,,} != "${mode,,}" ]]; then
    if [[ ${mode,,} == zen ]]; then
      echo "SKIP: this OpenBLAS has no Zen kernels (it loaded $core)"
      exit 77
    fi
    echo "FAIL: OPENBLAS_CORETYPE=$mode loaded the $core kernels"
    exit 1
  fi
fi
exec "$@"

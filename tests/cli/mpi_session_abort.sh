#!/usr/bin/env bash
# A rank that throws out of vae::mpi::Session's scope ends the job: rank 1
# throws while rank 0 waits in a barrier (test_mpi --leave-by-exception). The
# job must end (ctest's timeout catches a hang) with a non-zero status, and
# the Session must say it called MPI_Abort. Open MPI's own report of the
# abort is not required: Open MPI 4.1 sometimes loses it ("Data unpack would
# read past end of buffer in file show_help.c").
# Usage: mpi_session_abort.sh MPIEXEC TEST_MPI_BINARY
set -uo pipefail
mpiexec=$1 bin=$2
out=$("$mpiexec" -np 2 --oversubscribe "$bin" --leave-by-exception 2>&1)
rc=$?
printf '%s\n' "$out"
if [[ $rc -eq 0 ]]; then
  echo "FAIL: the job exited with status 0; a rank left by an exception must end it with MPI_Abort"
  exit 1
fi
if ! grep -qF "vae::mpi::Session: left by an exception on rank 1 of 2: MPI_Abort ends every rank" <<< "$out"; then
  echo "FAIL: rank 1's Session did not say it called MPI_Abort"
  exit 1
fi
if grep -qF "should not get here" <<< "$out"; then
  echo "FAIL: the exception reached the program after the Session"
  exit 1
fi
echo "session abort: passed (job status $rc)"

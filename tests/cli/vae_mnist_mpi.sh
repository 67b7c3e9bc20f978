#!/usr/bin/env bash
# vae_mnist under mpirun (data-parallel training over MPI):
#   1. rank 0's checkpoint resumes on 2 ranks, ending bit for bit like an
#      uninterrupted 2-rank run, and on 1 process (at the same global batch);
#   2. killing one rank ends the run with an error naming it, within a bounded
#      time, and the checkpoint written before the kill still loads;
#   3. a rank that throws ends the whole run with its message, within a
#      bounded time, instead of leaving the other rank blocked: rank 0 before
#      training (a checkpoint of another architecture), and rank 0 inside
#      training (its checkpoint cannot be written, while rank 1 trains on).
# Usage: vae_mnist_mpi.sh MPIEXEC VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
mpiexec=$1
bin=$2
data=$3
if [[ ! -f "$data/train-images-idx3-ubyte" && ! -f "$data/train-images-idx3-ubyte.gz" ]]; then
  echo "SKIP: no MNIST in $data (run scripts/fetch_mnist.sh); 0 passed, 0 failed"
  exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--model vae --data "$data" --threads 1 --no-plots --quiet --checkpoint-every 1)
two=("$mpiexec" -np 2 --oversubscribe "$bin")
passed=0

"${two[@]}" "${common[@]}" --batch 64 --epochs 2 --out "$work/straight"
"${two[@]}" "${common[@]}" --batch 64 --epochs 1 --out "$work/first"
"${two[@]}" "${common[@]}" --batch 64 --epochs 2 --out "$work/resumed2" --resume "$work/first/vae.ckpt"
cmp "$work/straight/vae.ckpt" "$work/resumed2/vae.ckpt"
echo "resumed on 2 ranks: final checkpoint identical to the uninterrupted 2-rank run"
passed=$((passed + 1))
"$bin" "${common[@]}" --batch 128 --epochs 2 --out "$work/resumed1" --resume "$work/first/vae.ckpt" > "$work/one.log"
grep -q "VAE: test loss per sample" "$work/one.log"
test -s "$work/resumed1/vae.ckpt"
echo "resumed on 1 process: $(grep 'VAE: test loss' "$work/one.log")"
passed=$((passed + 1))

# 2: a run of many epochs; once its first checkpoint is written, kill rank 1.
"${two[@]}" "${common[@]}" --batch 64 --epochs 30 --out "$work/killed" > "$work/killed.log" 2>&1 &
runner=$!
for _ in $(seq 3000); do [[ -f "$work/killed/vae.ckpt" ]] && break; sleep 0.1; done  # at most 300 s, for a loaded machine
victim=""
for pid in $(pgrep -f -- "--out $work/killed" || true); do
  if [[ -r /proc/$pid/environ ]] && tr '\0' '\n' < /proc/$pid/environ | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
[[ -n "$victim" ]] || { echo "no rank 1 process found"; echo "$passed passed, 1 failed"; exit 1; }
start=$(date +%s)
kill -9 "$victim"
rc=0
timeout 120 bash -c "while kill -0 $runner 2>/dev/null; do sleep 0.2; done" || rc=$?
wait "$runner" && status=0 || status=$?
elapsed=$(( $(date +%s) - start ))
if [[ $rc -ne 0 || $status -eq 0 ]]; then
  echo "the run did not end with an error within 120 s (status $status)"; cat "$work/killed.log"; echo "$passed passed, 1 failed"; exit 1
fi
grep -Eq "rank 1" "$work/killed.log" || { cat "$work/killed.log"; echo "$passed passed, 1 failed"; exit 1; }
echo "killing rank 1 ended the run in ${elapsed} s with status $status: $(grep -E 'rank 1' "$work/killed.log" | head -1)"
"$bin" "${common[@]}" --batch 128 --epochs 0 --out "$work/after" --resume "$work/killed/vae.ckpt" > /dev/null
echo "the checkpoint written before the kill loads"
passed=$((passed + 1))

# 3: `expect_failure NAME PATTERN ARGS...` runs 2 ranks with ARGS (at most
# 120 s) and checks that they ended with an error whose line matches PATTERN.
expect_failure() {
  local name=$1 pattern=$2
  shift 2
  local start status=0
  start=$(date +%s)
  timeout 120 "${two[@]}" "$@" > "$work/$name.log" 2>&1 || status=$?
  local elapsed=$(( $(date +%s) - start ))
  if [[ $status -eq 124 || $status -eq 0 ]]; then
    echo "$name: the run did not end with an error within 120 s (status $status)"; cat "$work/$name.log"
    echo "$passed passed, 1 failed"; exit 1
  fi
  grep -Eq "$pattern" "$work/$name.log" || {
    cat "$work/$name.log"; echo "$name: no line matches '$pattern'"; echo "$passed passed, 1 failed"; exit 1; }
  echo "$name: ended in ${elapsed} s with status $status: $(grep -E "$pattern" "$work/$name.log" | head -1)"
  passed=$((passed + 1))
}
# Rank 0 alone loads the checkpoint (a latent-2 VAE's) into a latent-10 VAE
# and throws, while rank 1 waits for rank 0's model.
expect_failure wrong_checkpoint "^vae_mnist: error on rank 0 of 2: .*the model is a VAE 784-512-10" \
  "${common[@]}" --batch 64 --epochs 2 --latent 10 --out "$work/wrong" --resume "$work/first/vae.ckpt"
# Rank 0 alone writes checkpoints: a folder where its checkpoint goes makes
# it throw after epoch 1 while rank 1 goes on to epoch 2's first step.
mkdir -p "$work/blocked/vae.ckpt"
expect_failure unwritable_checkpoint "^vae_mnist: error on rank 0 of 2: .*vae\.ckpt" \
  "${common[@]}" --batch 64 --epochs 3 --out "$work/blocked"
echo "$passed passed, 0 failed"

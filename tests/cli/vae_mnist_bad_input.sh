#!/usr/bin/env bash
# vae_mnist on bad input: each case must exit non-zero, print an error naming
# the file (or folder) and the field, and leave no output behind.
# Usage: vae_mnist_bad_input.sh VAE_MNIST_BINARY
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
failures=0

# u32 big-endian
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
# images N of 28 x 28 (all zero pixels) / labels N
images() { { be32 $((0x803)); be32 "$1"; be32 28; be32 28; head -c $(($1 * 784)) /dev/zero; } ; }
labels() { { be32 $((0x801)); be32 "$1"; head -c "$1" /dev/zero; } ; }
dataset() {  # dir train_images train_labels
  mkdir -p "$1"
  images "$2" > "$1/train-images-idx3-ubyte"; labels "$3" > "$1/train-labels-idx1-ubyte"
  images 4 > "$1/t10k-images-idx3-ubyte"; labels 4 > "$1/t10k-labels-idx1-ubyte"
}

expect_failure() {  # name expected-text args...
  local name=$1 want=$2; shift 2
  local out="$work/out-$name"
  "$bin" --epochs 1 --quiet --out "$out" "$@" > "$work/log" 2>&1
  local rc=$?
  if [[ $rc -eq 0 ]]; then echo "FAIL $name: exit 0"; failures=$((failures + 1)); return; fi
  if ! grep -qF -- "$want" "$work/log"; then
    echo "FAIL $name: output lacks '$want':"; cat "$work/log"; failures=$((failures + 1)); return
  fi
  if [[ -e "$out" ]] && [[ -n "$(ls -A "$out" 2>/dev/null)" ]]; then
    echo "FAIL $name: left output in $out: $(ls -A "$out")"; failures=$((failures + 1)); return
  fi
  echo "ok   $name (exit $rc): $(grep -m1 error "$work/log")"
}

expect_failure missing-folder "data folder '$work/nowhere' does not exist; fetch MNIST with: bash scripts/fetch_mnist.sh" \
  --data "$work/nowhere"

dataset "$work/magic" 4 4
{ be32 $((0x802)); be32 4; be32 28; be32 28; head -c 3136 /dev/zero; } > "$work/magic/train-images-idx3-ubyte"
expect_failure wrong-magic "$work/magic/train-images-idx3-ubyte: magic number is 0x00000802, expected 0x00000803" \
  --data "$work/magic"

dataset "$work/truncated" 4 4
images 4 | head -c 2000 > "$work/truncated/train-images-idx3-ubyte"
expect_failure truncated "$work/truncated/train-images-idx3-ubyte" --data "$work/truncated"
grep -q "truncated" "$work/log" || { echo "FAIL truncated: no 'truncated' in message"; failures=$((failures + 1)); }

dataset "$work/counts" 4 5
expect_failure count-mismatch "train-labels-idx1-ubyte" --data "$work/counts"
grep -qE "5 labels|label count is 5|5 .*4" "$work/log" || { echo "FAIL count-mismatch: counts not named"; cat "$work/log"; failures=$((failures + 1)); }

dataset "$work/ok" 4 4
mkdir -p "$work/readonly"; chmod a-w "$work/readonly"
if [[ $(id -u) -eq 0 ]]; then
  # root writes anywhere; a path under a regular file cannot be created by anyone
  touch "$work/file"; unwritable="$work/file/out"
else
  unwritable="$work/readonly/out"
fi
"$bin" --epochs 1 --quiet --data "$work/ok" --out "$unwritable" > "$work/log" 2>&1
rc=$?
if [[ $rc -ne 0 ]] && grep -q "output folder '$unwritable' cannot be written" "$work/log" && ! grep -q "training" "$work/log"; then
  echo "ok   unwritable-output (exit $rc): $(grep -m1 error "$work/log")"
else
  echo "FAIL unwritable-output: rc $rc"; cat "$work/log"; failures=$((failures + 1))
fi

expect_failure resume-both "--resume continues one model" --data "$work/ok" --resume "$work/none.ckpt"
expect_failure resume-missing "$work/none.ckpt" --data "$work/ok" --model vae --resume "$work/none.ckpt"
expect_failure range-latent10 "--ae-range and --vae-range set the grid of a 2-d latent space; with --latent 10" \
  --data "$work/ok" --latent 10 --vae-range -1 1 -1 1

echo "$((8 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]

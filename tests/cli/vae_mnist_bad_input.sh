#!/usr/bin/env bash
# vae_mnist on bad input: each case must exit with status 1, print an error
# naming the file (or folder, or option), the value and what was expected,
# and leave no output behind. Bad option values are refused before any data
# is read, with ranges in short numbers.
# Usage: vae_mnist_bad_input.sh VAE_MNIST_BINARY
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
failures=0
cases=0

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
  cases=$((cases + 1))
  "$bin" --epochs 1 --quiet --out "$out" "$@" > "$work/log" 2>&1
  local rc=$?
  if [[ $rc -ne 1 ]]; then echo "FAIL $name: exit $rc, expected 1"; cat "$work/log"; failures=$((failures + 1)); return; fi
  if grep -qE '[0-9]{25}' "$work/log"; then
    echo "FAIL $name: a number of 25 digits or more:"; cat "$work/log"; failures=$((failures + 1)); return
  fi
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
cases=$((cases + 1))
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

# An existing --out that cannot be written says why (a name taken by a folder
# stands in for a read-only folder, which root could write).
mkdir -p "$work/taken/.vae_mnist_write_test"
cases=$((cases + 1))
"$bin" --epochs 1 --quiet --data "$work/ok" --out "$work/taken" > "$work/log" 2>&1
rc=$?
if [[ $rc -eq 1 ]] && grep -qF "output folder '$work/taken' cannot be written (Is a directory)" "$work/log"; then
  echo "ok   existing-output-unwritable (exit $rc): $(grep -m1 error "$work/log")"
else
  echo "FAIL existing-output-unwritable: rc $rc"; cat "$work/log"; failures=$((failures + 1))
fi
if [[ $(id -u) -ne 0 ]]; then
  mkdir -p "$work/readonly-out"; chmod a-w "$work/readonly-out"
  expect_failure readonly-output "output folder '$work/readonly-out' cannot be written (Permission denied)" \
    --data "$work/ok" --out "$work/readonly-out"
fi

# A folder given as a checkpoint is named as one, not as a read error.
expect_failure resume-folder "$work/ok: is a folder, expected a checkpoint" --data "$work/ok" --model vae --resume "$work/ok"

# Option values: refused before any data is read (--data points nowhere, so a
# refusal that came later would name the data folder instead).
expect_option() {  # name expected-text args...
  local name=$1 want=$2; shift 2
  expect_failure "$name" "$want" --data "$work/nowhere" "$@"
  if grep -q "data folder" "$work/log"; then echo "FAIL $name: refused only after the data"; failures=$((failures + 1)); fi
}
expect_option batch-0 "--batch: 0 is outside [1, 1048576]" --batch 0
expect_option epochs-negative "--epochs: -1 is outside [0, 2147483647]" --epochs -1
expect_option k-0 "--k: 0 is outside [1, 5000]" --model vae --objective iwae --k 0
expect_option k-above-limit "--k: 5001 is outside [1, 5000]" --model vae --objective iwae --k 5001
expect_option threads-negative "--threads: -1 is outside [0, 1024]" --threads -1
expect_option threads-huge "--threads: 100000 is outside [0, 1024]" --threads 100000
expect_option lr-inf "--lr: inf is outside [1.17549e-38, 3.40282e+38]" --lr inf
expect_option lr-nan "--lr: nan is outside" --lr nan
expect_option lr-beyond-float "--lr: 1e39 is outside" --lr 1e39
expect_option lr-text "--lr: 'fast' is not a number; expected a number in [1.17549e-38, 3.40282e+38]" --lr fast
expect_option adam-eps-zero-in-float "--adam-eps: 1e-300 is outside [1.17549e-38, 3.40282e+38]" --adam-eps 1e-300
expect_option beta-nan "--beta: nan is outside [0, 3.40282e+38]" --beta nan
expect_option beta-beyond-float "--beta: 1e39 is outside [0, 3.40282e+38]" --beta 1e39
expect_option latent-0 "--latent: 0 is outside [1, 65536]" --latent 0
expect_option hidden-0 "--hidden: 0 is outside [1, 65536]" --hidden 300,0
expect_option activation-unknown "--activation: 'swish' is not one of relu, tanh, softplus, elu, sigmoid, identity" --activation swish
expect_option activation-count "--activation: 2 activations for 3 hidden layers (--hidden 300,200,100); give one for all, or one per layer" --hidden 300,200,100 --activation relu,tanh
expect_option network-too-large "--hidden 65536,65536 --latent 2: 8693351188 parameters, more than vae_mnist's limit of 1e9" --hidden 65536,65536
expect_option ae-range-inf "--ae-range: inf is outside [-1000000, 1000000]" --ae-range -1 inf -1 1
expect_option vae-range-nan "--vae-range: nan is outside" --vae-range -1 1 nan 1
expect_option unknown-option "The following argument was not expected: --no-such-option" --no-such-option
"$bin" --help > "$work/log" 2>&1 && grep -q -- "--threads" "$work/log" && echo "ok   --help (exit 0)" ||
  { echo "FAIL --help"; failures=$((failures + 1)); }

echo "$((cases - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]

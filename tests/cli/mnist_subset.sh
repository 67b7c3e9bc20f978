# Sourced by the vae_mnist CLI tests (after setting bin and work):
# mnist_subset SRC DST TRAIN TEST writes
# the first TRAIN training and TEST test images (and labels) of the raw MNIST
# files in SRC to DST.

# The first N records of an IDX file: the header with the count replaced
# (big-endian u32 at byte 4), then N records.
idx_subset() {  # in out count record_bytes header_bytes
  local in=$1 out=$2 n=$3 record=$4 header=$5
  {
    head -c 4 "$in"
    printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))"
    printf "\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))"
    dd if="$in" bs=1M iflag=skip_bytes,count_bytes skip=8 count=$((header - 8 + n * record)) status=none
  } > "$out"
}

mnist_subset() {  # src dst train_count test_count
  local src=$1 dst=$2 train=$3 test=$4
  mkdir -p "$dst"
  idx_subset "$src/train-images-idx3-ubyte" "$dst/train-images-idx3-ubyte" "$train" 784 16
  idx_subset "$src/train-labels-idx1-ubyte" "$dst/train-labels-idx1-ubyte" "$train" 1 8
  idx_subset "$src/t10k-images-idx3-ubyte" "$dst/t10k-images-idx3-ubyte" "$test" 784 16
  idx_subset "$src/t10k-labels-idx1-ubyte" "$dst/t10k-labels-idx1-ubyte" "$test" 1 8
}

# The checks of a one-test script: fail MESSAGE records a failure,
# expect_error MESSAGE ARGS... runs "$bin" on "$work/mnist" and fails unless
# it exits non-zero saying MESSAGE, and finish prints the verdict ctest reads.
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}
expect_error() {  # message args...
  local message=$1
  shift
  local err
  if err=$("$bin" --data "$work/mnist" --out "$work/bad" --no-plots --quiet --epochs 1 "$@" 2>&1); then
    fail "vae_mnist $* exited 0"
  elif [[ $err != *"$message"* ]]; then
    fail "vae_mnist $* said: $err (expected: $message)"
  fi
}
finish() {
  if ((failed)); then
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "1 passed, 0 failed"
}

# subset_or_skip DATA TRAIN TEST: exits 0 with SKIP when DATA has no raw
# MNIST; otherwise makes the temporary folder $work (removed on exit) and the
# subset $work/mnist.
subset_or_skip() {
  if [[ ! -f "$1/train-images-idx3-ubyte" ]]; then
    echo "SKIP: no raw MNIST in $1 (run scripts/fetch_mnist.sh)"
    exit 0
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mnist_subset "$1" "$work/mnist" "$2" "$3"
}

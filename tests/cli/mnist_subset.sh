# Sourced by the vae_mnist CLI tests: mnist_subset SRC DST TRAIN TEST writes
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

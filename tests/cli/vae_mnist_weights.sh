#!/usr/bin/env bash
# vae_mnist --save-weights / --load-weights (safetensors, docs/weights.md), on
# the first 2,000 training and 500 test images of MNIST:
#   - weights saved after one epoch, loaded with --epochs 0, give the test loss
#     that the training run printed, digit for digit, draw the pictures, and
#     save back to the same bytes;
#   - training continues from loaded weights;
#   - --resume and --load-weights read a pipe or a FIFO (each file is read
#     once), and --save-weights may name a file in an --out folder that does
#     not exist yet;
#   - a save removes the temporary files a crashed writer left beside its
#     target (older than a minute), and only those;
#   - a missing, truncated or mismatching file, an unwritable or folder
#     --save-weights, --model both and --resume with --load-weights each exit
#     non-zero with a message naming the file, before any training, leaving
#     no output and no existing weights file changed.
# Usage: vae_mnist_weights.sh VAE_MNIST_BINARY MNIST_DIR
set -uo pipefail
bin=$1
mnist=$2
if [[ ! -f "$mnist/train-images-idx3-ubyte" || ! -f "$mnist/t10k-images-idx3-ubyte" ]]; then
  echo "SKIP: no uncompressed MNIST in $mnist (run scripts/fetch_mnist.sh); 0 passed, 0 failed"
  exit 0
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
passed=0
failures=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; [[ -f "$work/log" ]] && cat "$work/log"; failures=$((failures + 1)); }

# The first N images (and labels) of an IDX pair.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
subset() {  # prefix count
  { be32 $((0x803)); be32 "$2"; be32 28; be32 28; tail -c +17 "$mnist/$1-images-idx3-ubyte" | head -c $(($2 * 784)); } \
    > "$work/data/$1-images-idx3-ubyte"
  { be32 $((0x801)); be32 "$2"; tail -c +9 "$mnist/$1-labels-idx1-ubyte" | head -c "$2"; } > "$work/data/$1-labels-idx1-ubyte"
}
mkdir -p "$work/data"
subset train 2000
subset t10k 500
common=(--data "$work/data" --threads 2 --quiet --batch 100)
loss_of() { grep -oE "test loss per sample [0-9.e+-]+" "$1" | head -1; }

# 1. Train one epoch and save.
"$bin" "${common[@]}" --model vae --epochs 1 --no-plots --out "$work/trained" --save-weights "$work/vae.safetensors" \
  --checkpoint-every 1 > "$work/trained.log" 2>&1
if [[ $? -eq 0 && -s "$work/vae.safetensors" ]] && grep -q '"vae.kind":"vae"' <(head -c 4096 "$work/vae.safetensors"); then
  ok "train and save ($(stat -c %s "$work/vae.safetensors") bytes, $(loss_of "$work/trained.log"))"
else
  cp "$work/trained.log" "$work/log"; fail "train and save"
fi
"$bin" "${common[@]}" --model ae --epochs 0 --no-plots --out "$work/ae" --save-weights "$work/ae.safetensors" \
  > "$work/log" 2>&1 && ok "save an untrained autoencoder" || fail "save an untrained autoencoder"

# 2. Load with --epochs 0: the same test loss, the pictures, the same bytes saved back
# (and a crashed writer's temporary file of that target, an hour old, removed).
touch -d '1 hour ago' "$work/again.safetensors.tmp-Crash1"
touch "$work/again.safetensors.tmp-Fresh1"
"$bin" "${common[@]}" --model vae --epochs 0 --out "$work/loaded" --load-weights "$work/vae.safetensors" \
  --save-weights "$work/again.safetensors" > "$work/log" 2>&1
rc=$?
want=$(loss_of "$work/trained.log")
got=$(loss_of "$work/log")
if [[ $rc -eq 0 && -n "$want" && "$got" == "$want" ]] && grep -q "without training (weights from" "$work/log"; then
  ok "load and evaluate: $got, as after training"
else
  fail "load and evaluate: rc $rc, '$got' against '$want'"
fi
pictures=$(ls "$work/loaded"/*.png 2>/dev/null | wc -l)
[[ $pictures -ge 3 ]] && ok "pictures drawn from loaded weights ($pictures PNG files)" || fail "pictures: $pictures PNG files"
cmp -s "$work/vae.safetensors" "$work/again.safetensors" && ok "saved back byte for byte" || fail "saved back differs"
if [[ ! -e "$work/again.safetensors.tmp-Crash1" && -e "$work/again.safetensors.tmp-Fresh1" ]]; then
  ok "a crashed writer's stale temporary file removed, a fresh one kept"
else
  fail "temporary files: $(ls "$work" | grep -F .tmp-)"
fi
rm -f "$work/again.safetensors.tmp-Fresh1"

# 2b. Files read once: the weights through a pipe, the checkpoint through a FIFO.
"$bin" "${common[@]}" --model vae --epochs 0 --no-plots --out "$work/piped" --load-weights <(cat "$work/vae.safetensors") \
  > "$work/log" 2>&1
rc=$?
got=$(loss_of "$work/log")
[[ $rc -eq 0 && "$got" == "$want" ]] && ok "--load-weights from a pipe: $got" || fail "--load-weights from a pipe: rc $rc, '$got'"
mkfifo "$work/ckpt.fifo"
timeout 300 cat "$work/trained/vae.ckpt" > "$work/ckpt.fifo" &
timeout 300 "$bin" "${common[@]}" --model vae --epochs 2 --no-plots --out "$work/fifo" --resume "$work/ckpt.fifo" \
  > "$work/log" 2>&1
rc=$?
wait
if [[ $rc -eq 0 ]] && grep -q "after 2 epochs" "$work/log"; then
  ok "--resume from a FIFO: $(loss_of "$work/log")"
else
  fail "--resume from a FIFO: rc $rc"
fi

# 2c. --save-weights in the --out folder, which the run creates.
"$bin" "${common[@]}" --model vae --epochs 0 --no-plots --out "$work/new-out" \
  --save-weights "$work/new-out/w.safetensors" > "$work/log" 2>&1
rc=$?
[[ $rc -eq 0 && -s "$work/new-out/w.safetensors" ]] && ok "--save-weights into a new --out folder" ||
  fail "--save-weights into a new --out folder: rc $rc"

# 3. Continue training from loaded weights.
"$bin" "${common[@]}" --model vae --epochs 1 --no-plots --out "$work/continued" --load-weights "$work/vae.safetensors" \
  --save-weights "$work/continued.safetensors" > "$work/log" 2>&1
if [[ $? -eq 0 ]] && grep -q "test loss per sample" "$work/log" && ! cmp -s "$work/vae.safetensors" "$work/continued.safetensors"; then
  ok "train on from loaded weights ($(loss_of "$work/log"))"
else
  fail "train on from loaded weights"
fi

# 4. Refusals: non-zero exit, the message, no training, no output, the existing weights untouched.
cp "$work/vae.safetensors" "$work/kept.safetensors"
expect_failure() {  # name expected-text args...
  local name=$1 want=$2; shift 2
  local out="$work/out-$name"
  "$bin" "${common[@]}" --epochs 1 --out "$out" "$@" > "$work/log" 2>&1
  local rc=$?
  if [[ $rc -eq 0 ]]; then fail "$name: exit 0"; return; fi
  if ! grep -qF -- "$want" "$work/log"; then fail "$name: output lacks '$want'"; return; fi
  if grep -q "training the" "$work/log"; then fail "$name: training started"; return; fi
  if [[ -e "$out" ]] && [[ -n "$(ls -A "$out" 2>/dev/null)" ]]; then fail "$name: left output in $out"; return; fi
  if ! cmp -s "$work/vae.safetensors" "$work/kept.safetensors"; then fail "$name: the weights file changed"; return; fi
  ok "$name (exit $rc): $(grep -m1 error "$work/log")"
}
expect_failure missing "$work/none.safetensors: cannot open the safetensors file for reading" \
  --model vae --load-weights "$work/none.safetensors"
expect_failure ae-into-vae "$work/ae.safetensors: tensor 'encoder.linear3.weight' is missing" \
  --model vae --load-weights "$work/ae.safetensors" --save-weights "$work/vae.safetensors"
expect_failure other-latent "tensor 'encoder.linear2.weight' has shape [2, 512], expected [10, 512]" \
  --model vae --latent 10 --load-weights "$work/vae.safetensors"
head -c 100000 "$work/vae.safetensors" > "$work/truncated.safetensors"
expect_failure truncated "$work/truncated.safetensors: the header declares" \
  --model vae --load-weights "$work/truncated.safetensors"
grep -q "(truncated)" "$work/log" || fail "truncated: no '(truncated)' in the message"
printf 'not a safetensors file at all' > "$work/text.safetensors"
expect_failure not-safetensors "$work/text.safetensors: the header length field says" \
  --model vae --load-weights "$work/text.safetensors"
expect_failure unwritable "$work/no/such/folder/w.safetensors: cannot create a temporary file beside it" \
  --model vae --save-weights "$work/no/such/folder/w.safetensors"
expect_failure folder "--save-weights $work is a folder" --model vae --save-weights "$work"
expect_failure both-models "--load-weights and --save-weights hold one model" --save-weights "$work/vae.safetensors"
expect_failure with-resume "--load-weights and --resume both give the starting point" \
  --model vae --load-weights "$work/vae.safetensors" --resume "$work/x.ckpt"
[[ -z "$(ls "$work" | grep -F .tmp-)" ]] && ok "no temporary files left" || fail "temporary files left: $(ls "$work" | grep -F .tmp-)"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]

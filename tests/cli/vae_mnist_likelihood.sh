#!/usr/bin/env bash
# vae_mnist's likelihood flags end to end, on the first 2,000 training and
# 500 test images: IWAE (k = 3) on dynamically binarised data with the
# Bernoulli decoder, then the test NLL with 20 importance samples. The NLL
# must be printed, be in metrics.csv, and lie below the test loss (-L_3):
# log p(x) >= L_20 >= L_3 in expectation. Bad combinations exit 1 with a
# message.
# Usage: vae_mnist_likelihood.sh VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
bin=$1
data=$2
# shellcheck source=mnist_subset.sh
source "$(dirname "$0")/mnist_subset.sh"
subset_or_skip "$data" 2000 500

out=$("$bin" --model vae --data "$work/mnist" --out "$work/run" --no-plots --quiet --epochs 2 --loss bce --kl exact \
  --binarize dynamic --objective iwae --k 3 --nll-samples 20 --latent 2)
echo "$out"
nll=$(sed -nE 's/^test NLL ([0-9.eE+-]+) nats \(k=20\)$/\1/p' <<< "$out")
loss=$(sed -nE 's/^VAE: test loss per sample ([0-9.eE+-]+) .*/\1/p' <<< "$out")
[[ -n $nll ]] || fail "no 'test NLL <value> nats (k=20)' line"
[[ -n $loss ]] || fail "no test loss line"
if [[ -n $nll && -n $loss ]]; then
  awk -v n="$nll" -v l="$loss" 'BEGIN { exit !(n > 0 && n < l) }' || fail "NLL $nll is not in (0, test loss $loss)"
fi
last=$(tail -n 1 "$work/run/metrics.csv")
[[ $(head -n 1 "$work/run/metrics.csv") == *",test_nll,nll_samples" ]] || fail "metrics.csv has no test_nll column"
[[ $last == vae,2,*",20" ]] || fail "metrics.csv's last row does not end with the NLL and k=20: $last"

# The same seed gives the same run: dynamic binarisation is seeded.
again=$("$bin" --model vae --data "$work/mnist" --out "$work/run2" --no-plots --quiet --epochs 2 --loss bce --kl exact \
  --binarize dynamic --objective iwae --k 3 --nll-samples 20 --latent 2)
same() { grep -E "^(VAE: test loss|test NLL)" <<< "$1"; }
[[ $(same "$again") == "$(same "$out")" ]] || fail "a second run with the same seed printed other losses: $again"

expect_error "--k 5 takes --objective iwae" --model vae --k 5
expect_error "--objective iwae is a VAE's bound" --model ae --objective iwae
expect_error "--nll-samples estimates a VAE's likelihood" --model ae --nll-samples 10
expect_error "--lr-schedule: iwaa not in" --model vae --lr-schedule iwaa

finish

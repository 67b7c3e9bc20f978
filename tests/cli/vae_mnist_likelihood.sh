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
grep -qE "^active units [0-2] of 2 \(variance of the mean code over the test images > 0.01\)$" <<< "$out" ||
  fail "no 'active units N of 2' line"
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

# Burda et al.'s start (--init glorot --init-output-bias): untrained, the
# decoder already outputs about the training set's mean pixel, so the test
# reconstruction is near that image's cross-entropy with the binarised test
# images (about 206 nats per image on MNIST) rather than the ~543 (784 log 2)
# of outputs near 1/2.
start() {
  "$bin" --model vae --data "$work/mnist" --out "$work/$1" --no-plots --quiet --epochs 0 --loss bce --kl exact \
    --binarize dynamic --latent 2 --hidden 200,200 --activation tanh "${@:2}" |
    sed -nE 's/^VAE: test loss per sample [0-9.eE+-]+ \(reconstruction ([0-9.eE+-]+),.*/\1/p'
}
plain=$(start init_plain)
glorot=$(start init_glorot --init glorot)
biased=$(start init_biased --init glorot --init-output-bias)
echo "untrained reconstruction: pytorch init $plain, glorot $glorot, glorot + output bias $biased"
awk -v p="$plain" -v g="$glorot" -v b="$biased" 'BEGIN { exit !(p > 450 && g > 450 && b > 150 && b < 260) }' ||
  fail "untrained reconstructions $plain, $glorot, $biased: expected > 450, > 450 and 150..260"
expect_error "--init: xavier not in" --model vae --init xavier

expect_error "--k 5 takes --objective iwae" --model vae --k 5
expect_error "--objective iwae is a VAE's bound" --model ae --objective iwae
expect_error "--nll-samples estimates a VAE's likelihood" --model ae --nll-samples 10
expect_error "--lr-schedule: iwaa not in" --model vae --lr-schedule iwaa

finish

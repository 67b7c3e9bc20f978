#!/usr/bin/env bash
# vae_mnist's choice of network and its conditional VAE, end to end on the
# first 2,000 training and 500 test images:
#  - --hidden 200,200 --activation tanh trains the paper's 784-200-200-50
#    (the checkpoint says so) and its test loss falls;
#  - --model cvae --latent 2 writes its pictures (samples by digit, the
#    latent grid per digit, reconstructions, latent space) and metrics, and a
#    run resumed from its checkpoint prints the losses of one that never
#    stopped; trained on the importance-weighted bound it prints its test NLL;
#  - any other network from the same program: --hidden 300,100 --latent 3
#    with an activation per layer trains, and its checkpoint names it;
#  - a checkpoint of another model exits 1 with a message;
#  - --network conv (the Keras example's convolutional VAE): its test loss
#    falls, it writes its pictures, a resumed run prints the losses of one
#    that never stopped, its weights saved and loaded give the trained
#    model's test loss (within its noise) and not an untrained one's, and the flags it cannot take are refused;
#  - --network conv --model cvae: its pictures, a falling loss, resume, its
#    weights saved and loaded, the importance-weighted bound and test NLL.
# Usage: vae_mnist_networks.sh VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
bin=$1
data=$2
# shellcheck source=mnist_subset.sh
source "$(dirname "$0")/mnist_subset.sh"
subset_or_skip "$data" 2000 500
run() { "$bin" --data "$work/mnist" --quiet "$@"; }

# The paper's network: sizes and activation in the checkpoint, a falling loss.
out=$(run --out "$work/deep" --model vae --hidden 200,200 --activation tanh --latent 50 --loss bce --kl exact \
  --epochs 2 --batch 20 --no-plots --checkpoint-every 1)
echo "$out"
[[ $(sed -n 2p "$work/deep/metrics.csv" | cut -d, -f6) != "" ]] || fail "no test loss in metrics.csv"
awk -F, 'NR == 2 { first = $6 } NR == 3 { last = $6 } END { exit !(last < first) }' "$work/deep/metrics.csv" ||
  fail "the test loss did not fall: $(cat "$work/deep/metrics.csv")"
info=$(run --out "$work/deep2" --model ae --resume "$work/deep/vae.ckpt" --epochs 3 --no-plots 2>&1 || true)
[[ $info == *"VAE 784-200-200-50 tanh (float)"* ]] ||
  fail "resuming the 784-200-200-50 tanh checkpoint into another model should name it: $info"

# The conditional VAE: pictures, metrics, and resume.
out=$(run --out "$work/cvae" --model cvae --latent 2 --epochs 2 --grid 6)
echo "$out"
[[ $out == "conditional VAE: test loss per sample "*"after 2 epochs"* ]] || fail "no conditional VAE test loss line: $out"
for f in cvae_samples.png cvae_grid.png cvae_reconstructions.png cvae_latent.png metrics.csv; do
  [[ -s $work/cvae/$f ]] || fail "--model cvae wrote no $f"
done
[[ $(tail -n 1 "$work/cvae/metrics.csv") == cvae,2,* ]] || fail "metrics.csv's last row is not the cvae's epoch 2"
run --out "$work/cvae1" --model cvae --latent 2 --epochs 1 --no-plots --checkpoint-every 1 > /dev/null
resumed=$(run --out "$work/cvae2" --model cvae --latent 2 --epochs 2 --no-plots --resume "$work/cvae1/cvae.ckpt")
[[ $(grep "test loss" <<< "$resumed") == "$(grep "test loss" <<< "$out")" ]] ||
  fail "the resumed conditional VAE printed '$resumed', the uninterrupted one '$out'"

# The conditional VAE on the importance-weighted bound, and its test NLL
# -log p(image | label): printed, in metrics.csv, and below the test loss
# (-L_3) as log p(x | y) >= L_20 >= L_3 in expectation.
out=$(run --out "$work/cvae_iw" --model cvae --latent 2 --epochs 2 --no-plots --loss bce --kl exact \
  --binarize dynamic --objective iwae --k 3 --nll-samples 20)
echo "$out"
nll=$(sed -nE 's/^test NLL ([0-9.eE+-]+) nats \(k=20\)$/\1/p' <<< "$out")
loss=$(sed -nE 's/^conditional VAE: test loss per sample ([0-9.eE+-]+) .*/\1/p' <<< "$out")
if [[ -n $nll && -n $loss ]]; then
  awk -v n="$nll" -v l="$loss" 'BEGIN { exit !(n > 0 && n < l) }' || fail "cvae NLL $nll is not in (0, test loss $loss)"
else
  fail "no cvae test NLL or test loss line: $out"
fi
[[ $(tail -n 1 "$work/cvae_iw/metrics.csv") == cvae,2,*",20" ]] || fail "metrics.csv's last row has no cvae NLL with k=20"

# Any network, one program: sizes, latent and an activation per layer that
# no build lists, trained, saved and named.
out=$(run --out "$work/any" --model vae --hidden 300,100 --latent 3 --activation elu,tanh --epochs 2 --batch 50 \
  --no-plots --checkpoint-every 1)
echo "$out"
[[ $out == "VAE: test loss per sample "*"after 2 epochs"* ]] || fail "no test loss line for --hidden 300,100: $out"
awk -F, 'NR == 2 { first = $6 } NR == 3 { last = $6 } END { exit !(last < first) }' "$work/any/metrics.csv" ||
  fail "the 784-300-100-3 test loss did not fall: $(cat "$work/any/metrics.csv")"
info=$(run --out "$work/any2" --model vae --hidden 300,100 --latent 3 --resume "$work/any/vae.ckpt" --epochs 3 \
  --no-plots 2>&1 || true)
[[ $info == *"VAE encoder 784-300-100-3 elu,tanh, decoder 3-100-300-784 tanh,elu (float)"* ]] ||
  fail "resuming the elu,tanh checkpoint with relu layers should name both networks: $info"
resumed=$(run --out "$work/any3" --model vae --hidden 300,100 --latent 3 --activation elu,tanh \
  --resume "$work/any/vae.ckpt" --epochs 3 --batch 50 --no-plots)
[[ $resumed == "VAE: test loss per sample "*"after 3 epochs"* ]] || fail "the 784-300-100-3 run did not resume: $resumed"
expect_error "the checkpoint holds a conditional VAE 784-512-2 relu, 10 classes (float)" --model vae \
  --resume "$work/cvae1/cvae.ckpt"

# The convolutional networks.
out=$(run --out "$work/conv" --network conv --model vae --loss bce --kl exact --epochs 2 --grid 4 --checkpoint-every 1 \
  --save-weights "$work/conv/vae.safetensors")
echo "$out"
[[ $out == *"VAE: test loss per sample "*"after 2 epochs"* ]] || fail "no test loss line for --network conv: $out"
awk -F, 'NR == 2 { first = $6 } NR == 3 { last = $6 } END { exit !(last < first) }' "$work/conv/metrics.csv" ||
  fail "the convolutional VAE's test loss did not fall: $(cat "$work/conv/metrics.csv")"
for f in vae_grid.png vae_samples.png vae_reconstructions.png vae_latent.png vae.ckpt; do
  [[ -s $work/conv/$f ]] || fail "--network conv wrote no $f"
done
run --out "$work/conv1" --network conv --model vae --loss bce --kl exact --epochs 1 --no-plots --checkpoint-every 1 > /dev/null
resumed=$(run --out "$work/conv2" --network conv --model vae --loss bce --kl exact --epochs 2 --no-plots \
  --resume "$work/conv1/vae.ckpt")
[[ $(grep "test loss" <<< "$resumed") == "$(grep "test loss" <<< "$out")" ]] ||
  fail "the resumed convolutional VAE printed '$resumed', the uninterrupted one '$out'"
loaded=$(run --out "$work/conv3" --network conv --model vae --loss bce --kl exact --epochs 0 --no-plots \
  --load-weights "$work/conv/vae.safetensors")
fresh=$(run --out "$work/conv4" --network conv --model vae --loss bce --kl exact --epochs 0 --no-plots)
echo "$loaded"
loss_of() { sed -nE 's/^VAE: test loss per sample ([0-9.eE+-]+) .*/\1/p' <<< "$1"; }
[[ $loaded == *"without training (weights from"* ]] || fail "no loaded test loss line: $loaded"
awk -v l="$(loss_of "$loaded")" -v f="$(loss_of "$fresh")" -v t="$(loss_of "$out")" \
  'BEGIN { exit !(l + 0 > 0 && l < f && (l - t) * (l - t) < 25) }' ||
  fail "the loaded weights' test loss $(loss_of "$loaded") is not near the trained $(loss_of "$out") and below the untrained $(loss_of "$fresh")"
expect_error "--hidden shapes --network mlp" --network conv --hidden 100

# The convolutional conditional VAE (the label's planes beside the image, its
# rows beside the code): pictures, a falling loss, resume, weights, the bound.
out=$(run --out "$work/conv_cvae" --network conv --model cvae --loss bce --kl exact --epochs 2 --grid 4 \
  --checkpoint-every 1 --save-weights "$work/conv_cvae/cvae.safetensors")
echo "$out"
[[ $out == *"conditional VAE: test loss per sample "*"after 2 epochs"* ]] ||
  fail "no conditional VAE test loss line for --network conv: $out"
awk -F, 'NR == 2 { first = $6 } NR == 3 { last = $6 } END { exit !(last < first) }' "$work/conv_cvae/metrics.csv" ||
  fail "the convolutional conditional VAE's test loss did not fall: $(cat "$work/conv_cvae/metrics.csv")"
for f in cvae_samples.png cvae_grid.png cvae_reconstructions.png cvae_latent.png cvae.ckpt; do
  [[ -s $work/conv_cvae/$f ]] || fail "--network conv --model cvae wrote no $f"
done
run --out "$work/conv_cvae1" --network conv --model cvae --loss bce --kl exact --epochs 1 --no-plots \
  --checkpoint-every 1 > /dev/null
resumed=$(run --out "$work/conv_cvae2" --network conv --model cvae --loss bce --kl exact --epochs 2 --no-plots \
  --resume "$work/conv_cvae1/cvae.ckpt")
[[ $(grep "test loss" <<< "$resumed") == "$(grep "test loss" <<< "$out")" ]] ||
  fail "the resumed convolutional conditional VAE printed '$resumed', the uninterrupted one '$out'"
loaded=$(run --out "$work/conv_cvae3" --network conv --model cvae --loss bce --kl exact --epochs 0 --no-plots \
  --load-weights "$work/conv_cvae/cvae.safetensors")
cvae_loss_of() { sed -nE 's/^conditional VAE: test loss per sample ([0-9.eE+-]+) .*/\1/p' <<< "$1"; }
[[ $loaded == *"without training (weights from"* ]] || fail "no loaded conditional test loss line: $loaded"
awk -v l="$(cvae_loss_of "$loaded")" -v t="$(cvae_loss_of "$out")" 'BEGIN { exit !(l + 0 > 0 && (l - t) * (l - t) < 25) }' ||
  fail "the loaded conditional weights' test loss $(cvae_loss_of "$loaded") is not near the trained $(cvae_loss_of "$out")"
out=$(run --out "$work/conv_cvae_iw" --network conv --model cvae --latent 2 --epochs 1 --no-plots --loss bce \
  --kl exact --binarize dynamic --objective iwae --k 2 --nll-samples 5)
[[ $out == *"test NLL "*" nats (k=5)"* ]] || fail "no test NLL line for the convolutional conditional VAE: $out"
expect_error "the checkpoint holds a conditional VAE" --network conv --model vae --resume "$work/conv_cvae1/cvae.ckpt"
expect_error "conv2d 1x28x28->32x14x14" --model vae --resume "$work/conv1/vae.ckpt"

finish

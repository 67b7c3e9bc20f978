#!/usr/bin/env bash
# benchmarks/iwae_table.sh on the first 1,000 training and 200 test images,
# with short stages (1, 2, 3 epochs) and few importance samples: each stage
# appends its epoch and test NLL to nll.csv; run again, it runs nothing; a
# stage killed after a checkpoint counts the time up to that checkpoint.
# Usage: iwae_table.sh TABLE_SCRIPT VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
table=$1
bin=$2
data=$3
# shellcheck source=mnist_subset.sh
source "$(dirname "$0")/mnist_subset.sh"
subset_or_skip "$data" 1000 200
out=$work/row
run_table() {  # stages
  STAGES=$1 STAGE_NLL_SAMPLES=4 FINAL_NLL_SAMPLES=8 bash "$table" 2 "$out" "$bin" "$work/mnist" --threads 1
}

run_table "1 2"
echo "--- nll.csv after stages 1 and 2"
cat "$out/nll.csv"
rows=$(awk -F, 'NR > 1 { printf "%s:%s ", $1, $3 }' "$out/nll.csv")
[[ $rows == "1:4 2:8 " ]] || fail "nll.csv rows (epoch:samples) are '$rows', expected '1:4 2:8 '"
awk -F, 'NR > 1 && !($2 > 50 && $2 < 800) { bad = 1 } END { exit bad }' "$out/nll.csv" ||
  fail "an NLL in nll.csv is not a plausible number of nats"
for e in 1 2; do
  [[ -f $out/metrics_$e.csv && -f $out/stage_$e.txt ]] || fail "no metrics_$e.csv or stage_$e.txt"
done
[[ $(tail -n 1 "$out/metrics_2.csv") == vae,2,* ]] || fail "metrics_2.csv does not end at epoch 2"

# Again: both stages are in nll.csv, so nothing runs and nothing changes.
before=$(cat "$out/nll.csv")
again=$(run_table "1 2")
[[ -z $again && $(cat "$out/nll.csv") == "$before" ]] || fail "a second run ran a finished stage: $again"

# A stage that was killed 100 s after it started, just after a checkpoint:
# the next run counts those 100 s in seconds_so_far.
now=$(date +%s)
echo $((now - 100)) > "$out/stage_started"
touch -d "@$now" "$out/vae.ckpt"
run_table "1 2 3"
prev=$(awk -F, '$1 == 2 { print $4 }' "$out/nll.csv")
last=$(awk -F, '$1 == 3 { print $4 }' "$out/nll.csv")
[[ -n $last ]] || fail "no row for stage 3"
((last - prev >= 100)) || fail "stage 3 counts $((last - prev)) s, expected at least the killed run's 100 s"
[[ ! -e $out/stage_started && ! -e $out/carried_seconds ]] || fail "stage bookkeeping left behind after stage 3"
[[ $(awk -F, '$1 == 3 { print $3 }' "$out/nll.csv") == 8 ]] || fail "the last stage did not use FINAL_NLL_SAMPLES"
finish

#!/usr/bin/env bash
# The vae tool end to end on a small synthetic table (6 features driven by 2
# factors, on scales from 0.1 to 100): train (standardised), info, encode,
# reconstruct, score, sample; a rerun with the same seed writes the same
# checkpoint; rows that break the factors' pattern score higher NLLs than
# the rows that keep it; and every refusal exits 1 with a message naming what
# is wrong, leaving no output behind.
# Usage: vae_tool.sh VAE_BINARY
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
cases=0
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# rows: label,f1..f12 from factors a, b ~ N(0, 1) and noise; "out" rows flip
# the sign of a in f2, f7 and f8 (a pattern no inlier has).
table() {  # seed rows outliers
  awk -v seed="$1" -v n="$2" -v m="$3" 'function g() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307 * rand()) }
    BEGIN { srand(seed); print "label,f1,f2,big f3,f4,f5,\"f6, small\",f7,f8,f9,f10,f11,f12";
      for (i = 0; i < n + m; ++i) { a = g(); b = g(); s = i >= n ? -1 : 1;
        printf "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", s < 0 ? "out" : "in", a,
               2 * s * a + 0.1 * g(), 10 * b + 0.5 * g(), a + b + 0.1 * g(), 100 - 3 * b + 0.2 * g(),
               0.1 * (a - b) + 0.01 * g(), s * a - b + 0.1 * g(), s * a + 2 * b + 0.1 * g(), a - 2 * b + 0.1 * g(),
               3 * a + 0.1 * g(), 2 * b + 0.1 * g(), a + 0.5 * b + 0.1 * g() } }'
}
table 1 300 0 > "$work/train.csv"
table 2 50 10 > "$work/score.csv"

check() {  # name command...
  cases=$((cases + 1))
  "${@:2}" > "$work/log" 2>&1 || { fail "$1: exit $?"; cat "$work/log"; }
}
check train "$bin" train --data "$work/train.csv" --label-column label --out "$work/run" --standardize \
  --hidden 16 --latent 2 --epochs 60 --batch 32 --seed 3 --quiet
for f in model.ckpt metrics.csv latent.png; do [[ -s "$work/run/$f" ]] || fail "train wrote no $f"; done
[[ $(wc -l < "$work/run/metrics.csv") -eq 61 ]] || fail "metrics.csv has $(wc -l < "$work/run/metrics.csv") lines, expected 61"
head -1 "$work/run/metrics.csv" | grep -q '^epoch,train_loss,train_reconstruction,train_kl,validation_loss' ||
  fail "metrics.csv header: $(head -1 "$work/run/metrics.csv")"
check rerun "$bin" train --data "$work/train.csv" --label-column label --out "$work/run2" --standardize \
  --hidden 16 --latent 2 --epochs 60 --batch 32 --seed 3 --quiet
cmp -s "$work/run/model.ckpt" "$work/run2/model.ckpt" || fail "the same seed gave another checkpoint"

check info "$bin" info --model "$work/run/model.ckpt"
for want in "VAE 12-16-2 relu (float)" "likelihood:    gaussian" "trained:       60 epochs, seed 3" "standardised" "f6, small"; do
  grep -qF "$want" "$work/log" || { fail "info lacks '$want'"; cat "$work/log"; }
done

check encode "$bin" encode --model "$work/run/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/codes.csv" --picture "$work/codes.png"
[[ "$(head -1 "$work/codes.csv")" == "label,z0,z1" && $(wc -l < "$work/codes.csv") -eq 61 && -s "$work/codes.png" ]] ||
  fail "encode wrote $(wc -l < "$work/codes.csv") lines under '$(head -1 "$work/codes.csv")'"
check encode_npy "$bin" encode --model "$work/run/model.ckpt" --data "$work/score.csv" --label-column label --out "$work/codes.npy"
# 60 rows x 2 float64 after the .npy header
[[ $(stat -c %s "$work/codes.npy") -eq $((128 + 60 * 2 * 8)) ]] || fail "codes.npy is $(stat -c %s "$work/codes.npy") bytes"

check reconstruct "$bin" reconstruct --model "$work/run/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/rec.csv"
[[ "$(head -1 "$work/rec.csv")" == 'label,f1,f2,big f3,f4,f5,"f6, small",f7,f8,f9,f10,f11,f12' ]] || fail "reconstruct header: $(head -1 "$work/rec.csv")"
# In the data's units: f5 is about 100, f3 spans tens.
awk -F, 'NR > 1 { s += $6; n++ } END { m = s / n; exit !(m > 95 && m < 105) }' "$work/rec.csv" ||
  fail "reconstructed f5 is not around 100: $(sed -n 2p "$work/rec.csv")"

check score "$bin" score --model "$work/run/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/scores.csv" --k 50 --seed 1
[[ "$(head -1 "$work/scores.csv")" == "label,nll,reconstruction_error" && $(wc -l < "$work/scores.csv") -eq 61 ]] ||
  fail "score wrote $(wc -l < "$work/scores.csv") lines under '$(head -1 "$work/scores.csv")'"
# The rows that break the pattern rank above those that keep it (ROC AUC,
# outliers against inliers). By reconstruction error clearly; by NLL less:
# a unit-variance Gaussian on standardised features is broad next to this
# data's noise (docs/likelihood.md, "Scales and beta").
auc() {  # scores.csv column
  awk -F, -v c="$2" 'NR > 1 { if ($1 == "out") o[++no] = $c; else i[++ni] = $c }
    END { for (a = 1; a <= no; ++a) for (b = 1; b <= ni; ++b) w += (o[a] > i[b]) + 0.5 * (o[a] == i[b]); printf "%.3f", w / (no * ni) }' "$1"
}
nll_auc=$(auc "$work/scores.csv" 2) rec_auc=$(auc "$work/scores.csv" 3)
echo "outliers against inliers: ROC AUC $nll_auc by NLL, $rec_auc by reconstruction error"
awk -v n="$nll_auc" -v r="$rec_auc" 'BEGIN { exit !(n >= 0.55 && r >= 0.8) }' ||
  { fail "outliers rank with AUC $nll_auc by NLL (expected >= 0.55), $rec_auc by reconstruction error (>= 0.8)"; cat "$work/scores.csv"; }

# A standard deviation near the data's noise (--sigma, in standardised units)
# makes the NLL a sharp score as well.
check train_sigma "$bin" train --data "$work/train.csv" --label-column label --out "$work/sigma" --standardize \
  --sigma 0.3 --hidden 16 --latent 2 --epochs 60 --batch 32 --seed 3 --quiet
check score_sigma "$bin" score --model "$work/sigma/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/scores_sigma.csv" --k 50 --seed 1
check info_sigma "$bin" info --model "$work/sigma/model.ckpt"
grep -qF "divided by sigma 0.3" "$work/log" || { fail "info does not show sigma"; cat "$work/log"; }
nll_auc=$(auc "$work/scores_sigma.csv" 2) rec_auc=$(auc "$work/scores_sigma.csv" 3)
echo "with --sigma 0.3: ROC AUC $nll_auc by NLL, $rec_auc by reconstruction error"
awk -v n="$nll_auc" -v r="$rec_auc" 'BEGIN { exit !(n >= 0.75 && r >= 0.95) }' ||
  fail "with --sigma 0.3 outliers rank with AUC $nll_auc by NLL (expected >= 0.75), $rec_auc by reconstruction error (>= 0.95)"

# The decoder's own scale per feature and row (--likelihood gaussian-decoder)
# learns the noise level itself.
check train_decoder "$bin" train --data "$work/train.csv" --label-column label --out "$work/hetero" --standardize \
  --likelihood gaussian-decoder --hidden 16 --latent 2 --epochs 60 --batch 32 --seed 3 --quiet
check score_decoder "$bin" score --model "$work/hetero/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/scores_hetero.csv" --k 50 --seed 1
check info_decoder "$bin" info --model "$work/hetero/model.ckpt"
grep -qF "likelihood:    gaussian-decoder" "$work/log" || { fail "info does not name gaussian-decoder"; cat "$work/log"; }
check reconstruct_decoder "$bin" reconstruct --model "$work/hetero/model.ckpt" --data "$work/score.csv" \
  --label-column label --out "$work/rec_hetero.npy"
[[ $(stat -c %s "$work/rec_hetero.npy") -eq $((128 + 60 * 12 * 8)) ]] || fail "gaussian-decoder reconstructions are $(stat -c %s "$work/rec_hetero.npy") bytes"
nll_auc=$(auc "$work/scores_hetero.csv" 2) rec_auc=$(auc "$work/scores_hetero.csv" 3)
echo "with --likelihood gaussian-decoder: ROC AUC $nll_auc by NLL, $rec_auc by reconstruction error"
awk -v n="$nll_auc" 'BEGIN { exit !(n >= 0.85) }' ||
  fail "with --likelihood gaussian-decoder outliers rank with AUC $nll_auc by NLL (expected >= 0.85)"

# A scale learned per feature (--likelihood gaussian-learned).
check train_learned "$bin" train --data "$work/train.csv" --label-column label --out "$work/learned" --standardize \
  --likelihood gaussian-learned --hidden 16 --latent 2 --epochs 60 --batch 32 --seed 3 --quiet
check score_learned "$bin" score --model "$work/learned/model.ckpt" --data "$work/score.csv" --label-column label \
  --out "$work/scores_learned.csv" --k 50 --seed 1
nll_auc=$(auc "$work/scores_learned.csv" 2)
echo "with --likelihood gaussian-learned: ROC AUC $nll_auc by NLL"
awk -v n="$nll_auc" 'BEGIN { exit !(n >= 0.65) }' ||
  fail "with --likelihood gaussian-learned outliers rank with AUC $nll_auc by NLL (expected >= 0.65)"

check sample "$bin" sample --model "$work/run/model.ckpt" --out "$work/samples.csv" --n 7 --seed 2
[[ $(wc -l < "$work/samples.csv") -eq 8 ]] || fail "sample wrote $(wc -l < "$work/samples.csv") lines, expected 8"

# Refusals: exit 1, the message, nothing written at the output path.
refuse() {  # name expected-text output-path args...
  local name=$1 want=$2 out=$3; shift 3
  cases=$((cases + 1))
  "$bin" "$@" > "$work/log" 2>&1
  local rc=$?
  if [[ $rc -ne 1 ]]; then fail "$name: exit $rc, expected 1"; cat "$work/log"; return; fi
  grep -qF -- "$want" "$work/log" || { fail "$name: output lacks '$want'"; cat "$work/log"; return; }
  [[ ! -e "$out" ]] || fail "$name: left $out behind"
}
printf 'a,b\n1,2\n3,x\n' > "$work/bad_cell.csv"
printf 'a,b\n0.5,0.2\n0.7,1.5\n' > "$work/above_one.csv"
printf 'label,f1,f2,f3\nin,1,2,3\n' > "$work/other_columns.csv"
touch "$work/a_file"
head -c 100 "$work/run/model.ckpt" > "$work/truncated.ckpt"
m="$work/run/model.ckpt"
refuse missing_data "no_such.csv" "$work/o1" train --data "$work/no_such.csv" --out "$work/o1"
refuse bad_cell "line 3, column 'b' is 'x'" "$work/o2" train --data "$work/bad_cell.csv" --out "$work/o2"
refuse above_one "row 2, column 'b' is 1.5" "$work/o3" train --data "$work/above_one.csv" --out "$work/o3" --likelihood bernoulli
refuse standardize_bernoulli "use --likelihood gaussian" "$work/o4" train --data "$work/above_one.csv" --out "$work/o4" \
  --likelihood continuous-bernoulli --standardize
refuse out_is_file "is a file, expected a folder" "$work/a_file/model.ckpt" train --data "$work/train.csv" --label-column label --out "$work/a_file"
refuse hidden_zero "'0' is not a layer size" "$work/o5" train --data "$work/train.csv" --label-column label --out "$work/o5" --hidden 16,0
refuse k_elbo "takes --objective iwae" "$work/o6" train --data "$work/train.csv" --label-column label --out "$work/o6" --k 3
refuse no_label_column "'nope' is not in the header" "$work/o7" train --data "$work/train.csv" --label-column nope --out "$work/o7"
refuse sigma_bernoulli "--sigma sets the Gaussian's standard deviation" "$work/o14" train --data "$work/train.csv" \
  --label-column label --out "$work/o14" --likelihood bernoulli --sigma 0.5
refuse likelihood_name "gaussian-sideways" "$work/o8" train --data "$work/train.csv" --out "$work/o8" --likelihood gaussian-sideways
refuse other_columns "3 feature columns, the model was trained on 12" "$work/o9.csv" encode --model "$m" \
  --data "$work/other_columns.csv" --label-column label --out "$work/o9.csv"
refuse out_extension "expected a file ending in .csv or .npy" "$work/o10.txt" score --model "$m" --data "$work/score.csv" \
  --label-column label --out "$work/o10.txt"
refuse out_folder_missing "does not exist" "$work/nowhere/o11.csv" reconstruct --model "$m" --data "$work/score.csv" \
  --label-column label --out "$work/nowhere/o11.csv"
refuse truncated_model "truncated.ckpt" "$work/o12.csv" score --model "$work/truncated.ckpt" --data "$work/score.csv" \
  --label-column label --out "$work/o12.csv"
refuse picture_extension "expected a file ending in .png" "$work/o13.csv" encode --model "$m" --data "$work/score.csv" \
  --label-column label --out "$work/o13.csv" --picture "$work/o13.jpg"
refuse no_subcommand "A subcommand is required" "$work/none" --quiet

echo "vae tool: $((cases - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]

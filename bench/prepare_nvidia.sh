#!/usr/bin/env bash
# NVIDIA's stylegan2-ada-pytorch for bench_training.py's NVIDIA rows, into the git-ignored bench/.nvidia/:
#   ./bench/prepare_nvidia.sh [SOURCE]
# SOURCE: a checkout, a (bare) git repository, or nothing: the mirror at
# /work/.mirror/NVlabs+stylegan2-ada-pytorch/repo if present, else a clone from GitHub. Its files are
# copied as they are (NVIDIA's licence forbids putting them in this repository). Also fetches the ninja
# wheel (PyTorch builds NVIDIA's custom CUDA ops with it; a GPU machine without a package registry lacks
# it) when PyPI is reachable. Carry bench/.nvidia to a GPU machine along with the checkout.
set -euo pipefail
cd "$(dirname "$0")"
dest=.nvidia
src=${1:-/work/.mirror/NVlabs+stylegan2-ada-pytorch/repo}
rm -rf "$dest/src"
mkdir -p "$dest/src"
if [ -f "$src/training/networks.py" ]; then
    cp -r "$src/." "$dest/src/"
    rm -rf "$dest/src/.git"
elif git --git-dir "$src" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    git --git-dir "$src" archive HEAD | tar -x -C "$dest/src"
elif [ $# -eq 0 ]; then
    git clone -q --depth 1 https://github.com/NVlabs/stylegan2-ada-pytorch "$dest/src"
    rm -rf "$dest/src/.git"
else
    echo "prepare_nvidia.sh: $src is neither a stylegan2-ada-pytorch checkout nor a git repository" >&2
    exit 1
fi
[ -f "$dest/src/training/networks.py" ] || { echo "prepare_nvidia.sh: no training/networks.py in $src" >&2; exit 1; }
py=../.venv/bin/python
[ -x "$py" ] || py=python3
if [ ! -x "$dest/ninja/bin/ninja" ]; then
    wheels=$(mktemp -d)
    if "$py" -m pip download -q --no-deps --only-binary :all: --platform manylinux2014_x86_64 -d "$wheels" ninja \
        2>/dev/null; then
        rm -rf "$dest/ninja"
        "$py" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$wheels"/ninja-*.whl \
            "$dest/ninja/wheel"
        mkdir -p "$dest/ninja/bin"
        ninja=$(find "$dest/ninja/wheel" -type f -name ninja \( -path "*/scripts/*" -o -path "*/bin/*" \) | head -1)
        cp "$ninja" "$dest/ninja/bin/ninja"
        chmod +x "$dest/ninja/bin/ninja"
        rm -rf "$dest/ninja/wheel"
    else
        echo "prepare_nvidia.sh: no ninja wheel (PyPI unreachable): NVIDIA's custom ops build only where ninja is installed" >&2
    fi
    rm -rf "$wheels"
fi
echo "prepare_nvidia.sh: stylegan2-ada-pytorch in bench/$dest/src$( [ -x "$dest/ninja/bin/ninja" ] && echo ", ninja in bench/$dest/ninja/bin")"

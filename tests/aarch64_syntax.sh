#!/usr/bin/env bash
# tests/aarch64_syntax.sh [FILE...]: compiles every source file (or the ones given) for aarch64
# (Grace Hopper, Graviton), syntax only, with Debian's cross compiler (apt-get install
# g++-aarch64-linux-gnu). It catches x86-only code (cpuid builtins, intrinsics) without an ARM
# machine. The headers of LibTorch, MPI, TOML++, nlohmann-json and CLI11 come from this machine's
# /usr/include, searched after the cross compiler's own (so glibc and libstdc++ are aarch64's);
# they are architecture-independent as far as these files use them. Not part of ctest (it takes
# minutes: LibTorch's headers are heavy); documented in docs/building.md.
# Prints each file that fails with the compiler's first errors; exits 1 if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
cxx=${CXX_AARCH64:-aarch64-linux-gnu-g++}
command -v "$cxx" > /dev/null || { echo "aarch64_syntax: $cxx not found: apt-get install g++-aarch64-linux-gnu"; exit 2; }
[ -f build/generated/build_info.hpp ] || { echo "aarch64_syntax: build first (build/generated/build_info.hpp)"; exit 2; }
mpi_include=$(mpicxx --showme:incdirs 2>/dev/null | cut -d' ' -f1)
flags=(-std=c++17 -fsyntax-only -Isrc -Ibuild/generated
       -idirafter /usr/include/torch/csrc/api/include -idirafter /usr/include -idirafter "${mpi_include:-/usr/lib/x86_64-linux-gnu/openmpi/include}")
# The CUDA and NCCL code too, where the toolkit's headers are here (GH200 nodes run it).
cuda=${CUDA_HOME:-/usr/local/cuda}
[ -f "$cuda/include/cuda_runtime.h" ] && flags+=(-DANCHORSWEEP_WITH_CUDA=1 -idirafter "$cuda/include")
[ -f "$cuda/include/nccl.h" ] && flags+=(-DANCHORSWEEP_WITH_NCCL=1)
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find src -name '*.cpp' | sort); fi
failed=0
for f in "${files[@]}"; do
  if ! out=$("$cxx" "${flags[@]}" "$f" 2>&1); then
    failed=$((failed + 1))
    echo "FAIL $f"
    grep -m 3 'error' <<< "$out" | sed 's/^/  /'
  fi
done
echo "aarch64 syntax check: $((${#files[@]} - failed)) of ${#files[@]} files pass"
[ "$failed" -eq 0 ]

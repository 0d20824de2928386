#!/bin/sh
# install-cuda.sh: install Debian's CUDA 11.8 toolkit (nvcc, headers, the
# libcuda stub) from the non-free component, then print where everything is
# and the environment the `gpu` build tag needs. Idempotent: running it again
# changes nothing and only prints the locations.
#
# What it does, as root (or through sudo):
#   1. writes /etc/apt/sources.list.d/debian-nonfree.sources, a copy of the
#      entries of /etc/apt/sources.list.d/debian.sources (same mirrors and
#      suites) with "Components: contrib non-free";
#   2. apt-get update; apt-get install nvidia-cuda-toolkit (pulls in
#      nvidia-cuda-dev: cuda.h and the stub libraries);
#   3. prints nvcc, cuda.h and the libcuda stub, and the environment for
#      `go build -tags gpu` (package gpu needs only cuda.h at build time: it
#      loads libcuda.so.1 and cuBLAS with dlopen at run time, so nothing,
#      not even the stub, is linked).
set -eu

SRC=/etc/apt/sources.list.d/debian.sources
DST=/etc/apt/sources.list.d/debian-nonfree.sources
PKGS="nvidia-cuda-toolkit nvidia-cuda-dev"

SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-cuda.sh: need root (or sudo) to install packages" >&2
		exit 1
	fi
fi

have_cuda() {
	command -v nvcc >/dev/null 2>&1 || [ -x /usr/lib/nvidia-cuda-toolkit/bin/nvcc ] || return 1
	[ -f /usr/include/cuda.h ] || return 1
	[ -n "$(find_stub)" ] || return 1
	return 0
}

find_stub() {
	for d in /usr/lib/x86_64-linux-gnu/stubs /usr/lib/aarch64-linux-gnu/stubs /usr/lib/cuda/lib64/stubs /usr/local/cuda/lib64/stubs; do
		if [ -f "$d/libcuda.so" ]; then
			echo "$d"
			return 0
		fi
	done
	return 0
}

if ! have_cuda; then
	tmp=$(mktemp)
	if [ -f "$SRC" ]; then
		# Every deb822 entry of the main sources, Components replaced.
		sed 's/^Components:.*$/Components: contrib non-free/' "$SRC" >"$tmp"
	elif [ -f /etc/apt/sources.list ]; then
		# One-line format: the same "deb URI suite" lines with contrib non-free.
		awk '$1 == "deb" { printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: contrib non-free\n\n", $2, $3 }' \
			/etc/apt/sources.list >"$tmp"
	else
		echo "install-cuda.sh: no $SRC or /etc/apt/sources.list to copy the mirror from" >&2
		exit 1
	fi
	if ! cmp -s "$tmp" "$DST" 2>/dev/null; then
		$SUDO install -m 0644 "$tmp" "$DST"
		echo "install-cuda.sh: wrote $DST"
	fi
	rm -f "$tmp"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS
fi

NVCC=$(command -v nvcc || echo /usr/lib/nvidia-cuda-toolkit/bin/nvcc)
STUB=$(find_stub)
if [ ! -x "$NVCC" ] || [ ! -f /usr/include/cuda.h ] || [ -z "$STUB" ]; then
	echo "install-cuda.sh: installation incomplete (nvcc=$NVCC, cuda.h, stub=$STUB)" >&2
	exit 1
fi

echo "nvcc:        $NVCC ($("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
echo "cuda.h:      /usr/include/cuda.h"
echo "libcuda stub: $STUB/libcuda.so"
echo
echo "Build and vet the GPU code (no GPU needed); cuda.h is in /usr/include, the"
echo "compiler's default path, so CGO_CFLAGS only matters for a CUDA elsewhere:"
echo "  export CGO_CFLAGS=-I/usr/include"
echo "  go vet -tags gpu ./gpu/... && go build -tags gpu ./... && go test -c -tags gpu -o gpu.test ./gpu"
echo "(no CGO_LDFLAGS: libcuda.so.1 and cuBLAS are opened at run time; the stub in"
echo " $STUB is only needed by code that links libcuda, e.g. gorgonia.org/cu:"
echo " CGO_LDFLAGS=-L$STUB)"
echo "Regenerate / check the PTX and fatbins: scripts/ptx-check.sh [--check]"

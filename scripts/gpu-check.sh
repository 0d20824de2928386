#!/usr/bin/env bash
# The GPU check, here: build what a GPU machine runs, and check that it fits
# (docs/gpu-results.md says how to run it there).
#
#     scripts/gpu-check.sh --build [DIR]    # default DIR: out/gpu-payload
#     scripts/gpu-check.sh --size [DIR]     # the size check alone
#
# --build needs Go and the CUDA 11.8 headers (scripts/install-cuda.sh). It
# builds, with -tags gpu, -trimpath and -ldflags='-s -w' (stripped), the test
# binaries of ./gpu, ./gpu/graphexec, ./train, ./eval and ./cmd/suite and the
# commands cmd/train and cmd/eval, and packs them with BUILD_INFO and the
# smoke run's model config into DIR/gpu-payload.tar.xz: one xz stream with a
# 64 MiB dictionary, which finds the code and embedded data the seven
# binaries share (about 140 MB of binaries, 12-13 MiB packed; gzip's 32 KiB
# window gets 50 MiB). Nothing links a CUDA library (checked): the driver and
# cuBLAS are opened at run time. DIR keeps only the archive and a copy of
# BUILD_INFO.
#
# The size check: a command on the GPU machine receives at most 64 MiB in
# all: the tracked tree, untracked files git does not ignore, shared/, and
# the carried paths (here DIR). It prints each part and fails unless the sum
# stays under 60 MiB (GPU_CHECK_LIMIT_MIB), leaving room for the tree to
# grow. DIR inside the repository must be ignored by git (out/ is), else it
# would travel twice.
#
# On the GPU machine the one command is scripts/gpu-run.sh OUTDIR (with DIR
# carried), which unpacks the archive and runs every check.
set -euo pipefail

die() {
	echo "gpu-check: $*" >&2
	exit 2
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIMIT_MIB=${GPU_CHECK_LIMIT_MIB:-60}
[[ $LIMIT_MIB =~ ^[0-9]+$ ]] || die "GPU_CHECK_LIMIT_MIB=$LIMIT_MIB: want whole MiB"

# mib BYTES: bytes as MiB with one decimal.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# bytes_of FILE...: the total size of the files that exist (NUL-separated
# names on standard input).
bytes_of() { xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# size_check DIR: the parts of what travels and their sum against the limit.
size_check() {
	local dir=$1 tracked untracked shared=0 carry total where
	cd "$ROOT"
	if ! command -v git >/dev/null || ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		die "--size needs a git checkout (what travels is the tracked tree)"
	fi
	tracked=$(git ls-files -z | bytes_of)
	untracked=$(git ls-files -z --others --exclude-standard | bytes_of)
	# shared/ travels when it is inside the checkout; the ../shared beside a
	# worktree is counted too, to be safe.
	for where in "$ROOT/shared" "$ROOT/../shared"; do
		if [[ -d $where ]]; then
			shared=$((shared + $(find "$where" -type f -print0 | bytes_of)))
		fi
	done
	carry=$(find "$dir" -type f -print0 | bytes_of)
	case $(cd "$dir" && pwd)/ in
	"$ROOT"/*)
		local rel=${dir#"$ROOT"/}
		git check-ignore -q "$rel" || die "$rel is inside the repository but not ignored by git: it would travel twice (put it under out/)"
		;;
	esac
	total=$((tracked + untracked + shared + carry))
	echo "gpu-check: what a command on the GPU machine receives:"
	printf '  %-48s %6s MiB\n' "tracked files" "$(mib "$tracked")" \
		"untracked files git does not ignore" "$(mib "$untracked")" \
		"shared/" "$(mib "$shared")" \
		"carried: $dir" "$(mib "$carry")" \
		"total (limit $LIMIT_MIB MiB; the tool's 64)" "$(mib "$total")"
	((total < LIMIT_MIB * 1048576)) || die "$(mib "$total") MiB is over $LIMIT_MIB MiB: carry less or shrink the tree"
}

STAGE=""
build() {
	local dir=$1 stage pkg name
	cd "$ROOT"
	command -v go >/dev/null || die "--build needs Go (go.mod asks for $(awk '/^go /{print $2}' go.mod))"
	command -v xz >/dev/null || die "--build needs xz (apt-get install xz-utils)"
	command -v gcc >/dev/null || command -v cc >/dev/null || die "--build needs a C compiler (cgo)"
	# shellcheck disable=SC2086 # CGO_CFLAGS holds several flags
	if ! echo '#include <cuda.h>' | ${CC:-cc} ${CGO_CFLAGS:-} -E -x c - >/dev/null 2>&1; then
		die "cuda.h not found: run scripts/install-cuda.sh (Debian's CUDA 11.8 headers), or set CGO_CFLAGS=-I/path/to/cuda/include"
	fi
	export CGO_ENABLED=1
	mkdir -p "$dir"
	stage=$(mktemp -d)
	STAGE=$stage
	trap 'rm -rf "$STAGE"' EXIT
	mkdir -p "$stage/bin"
	for pkg in ./gpu ./gpu/graphexec ./train ./eval ./cmd/suite; do
		name=$(basename "$pkg")
		echo "gpu-check: go test -c -tags gpu $pkg -> bin/$name.test"
		go test -c -tags gpu -trimpath -ldflags='-s -w' -o "$stage/bin/$name.test" "$pkg"
	done
	for pkg in ./cmd/train ./cmd/eval; do
		name=$(basename "$pkg")
		echo "gpu-check: go build -tags gpu $pkg -> bin/$name"
		go build -tags gpu -trimpath -ldflags='-s -w' -o "$stage/bin/$name" "$pkg"
	done
	if command -v ldd >/dev/null && ldd "$stage/bin/gpu.test" | grep -Eq 'libcuda|libcublas|libcudart'; then
		die "bin/gpu.test links a CUDA library; it must load them at run time"
	fi
	# The tiny model of the cmd/train -device cuda smoke run.
	echo '{"hidden_size": 32, "intermediate_size": 64, "attention_key_size": 16, "num_hidden_layers": 2}' >"$stage/smoke-config.json"
	{
		echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
		echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
		echo "go: $(go version)"
		# gpu-run.sh compares these with the tree it runs from.
		(cd "$ROOT" && sha256sum scripts/gpu-run.sh scripts/bench_torch_gpu.py scripts/bench_torch.py) | sed 's/^/sha256: /'
		(cd "$stage" && sha256sum bin/* smoke-config.json) | sed 's/^/sha256: /'
	} >"$stage/BUILD_INFO"
	echo "gpu-check: packing $(du -sh "$stage" | cut -f1) into $dir/gpu-payload.tar.xz (xz, 64 MiB dictionary)"
	tar -C "$stage" -cf - BUILD_INFO smoke-config.json bin |
		xz -T1 --lzma2=preset=6,dict=64MiB -c >"$dir/gpu-payload.tar.xz.tmp"
	mv -f "$dir/gpu-payload.tar.xz.tmp" "$dir/gpu-payload.tar.xz"
	cp "$stage/BUILD_INFO" "$dir/BUILD_INFO"
	# Older layouts of this folder (unpacked binaries, other archives) would
	# be carried too.
	find "$dir" -mindepth 1 -maxdepth 1 ! -name gpu-payload.tar.xz ! -name BUILD_INFO -exec rm -rf {} +
	echo "gpu-check: $dir/gpu-payload.tar.xz: $(mib "$(stat -c %s "$dir/gpu-payload.tar.xz")") MiB"
}

mode=${1:-}
case $mode in
--build | --size)
	dir=${2:-$ROOT/out/gpu-payload}
	[[ $# -le 2 ]] || die "too many arguments (--build [DIR], --size [DIR])"
	[[ $dir == /* ]] || dir=$PWD/$dir
	if [[ $mode == --build ]]; then
		build "$dir"
	else
		[[ -f $dir/gpu-payload.tar.xz ]] || die "no $dir/gpu-payload.tar.xz: run scripts/gpu-check.sh --build first"
	fi
	size_check "$dir"
	if [[ $mode == --build ]]; then
		rel=$dir
		[[ $dir == "$ROOT"/* ]] && rel=${dir#"$ROOT"/}
		echo "gpu-check: built. On the GPU machine, from the repository root, with $rel carried: scripts/gpu-run.sh OUTDIR"
	fi
	;;
-h | --help | "")
	sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	[[ -n $mode ]] || exit 2
	;;
*) die "unknown option $mode (--build [DIR], --size [DIR], --help)" ;;
esac

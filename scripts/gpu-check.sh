#!/usr/bin/env bash
# The GPU check in one command (docs/gpu.md, docs/gpu-results.md).
#
# Here, with Go and the CUDA 11.8 headers (scripts/install-cuda.sh):
#
#     scripts/gpu-check.sh --build [DIR]      # default DIR: out/gpu-check
#
# builds, with -tags gpu, the test binaries of ./gpu, ./gpu/graphexec,
# ./train, ./eval and ./cmd/suite, cmd/train and cmd/eval (stripped: -s -w),
# copies the PTX, the PyTorch scripts and this script into DIR, and packs DIR
# into DIR.tar.xz (about 30 MB; the binaries take 130 MB unpacked). Carry DIR
# or DIR.tar.xz to the GPU machine (no Go, no network needed there; PyTorch
# optional), unpack it there if packed (tar -xJf DIR.tar.xz -C /tmp), and run:
#
#     DIR/gpu-check.sh [RESULTS_DIR]          # default: DIR/results-<date>
#
# which, in under 8 minutes:
#   (a) runs every GPU test: the kernels against the CPU kernels, the whole
#       model (loss, logits, every gradient) on the device executor against
#       the CPU executor, device training and evaluation against the CPU
#       trainer and evaluation (float32 relative error < 1e-4, bf16 < 2e-2,
#       every output element written, no NaN; bf16 training also against
#       the CPU doing the same bfloat16 rounding), and cmd/train and
#       cmd/eval with -device cuda (float32 and bf16) on a tiny model;
#   (c) times, with CUDA events after warm-up (median of many runs), the
#       fused attention forward and backward at L = 1024, 4096, 16384
#       (d = 128, d_v = 1536) and a paper-size training step (6 layers,
#       768/1536/128, batch 128, L = 64; float32 and bf16), and the same in
#       PyTorch eager (bf16: torch.autocast) plus
#       torch's scaled_dot_product_attention at d = d_v = 128 (the
#       FlashAttention anchor), if PyTorch with CUDA is there; and the paper
#       protocol's full sweep for one method, estimated from 64 positions per
#       length (float32 and bf16);
#   (b) runs the tensor-core attention tests under compute-sanitizer
#       --tool racecheck, and the kernel tests and the whole-model tests
#       under --tool memcheck (last: they get the time left);
#   (d) prints one table and writes it, with the logs, to RESULTS_DIR
#       (gpu-check.md).
# The exit status is 0 when every test, memcheck and racecheck passed.
#
# `bash -n scripts/gpu-check.sh` checks the syntax anywhere.
set -euo pipefail

die() {
	echo "gpu-check: $*" >&2
	exit 2
}

# ---------------------------------------------------------------------------
# --build: here
# ---------------------------------------------------------------------------
build() {
	local root dir
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	dir=${1:-$root/out/gpu-check}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	cd "$root"
	command -v go >/dev/null || die "--build needs Go (go.mod asks for $(awk '/^go /{print $2}' go.mod))"
	command -v gcc >/dev/null || command -v cc >/dev/null || die "--build needs a C compiler (cgo)"
	# Package gpu's -tags gpu build includes cuda.h (scripts/install-cuda.sh
	# installs it; CGO_CFLAGS=-I... for a CUDA elsewhere).
	# shellcheck disable=SC2086 # CGO_CFLAGS holds several flags
	if ! echo '#include <cuda.h>' | ${CC:-cc} ${CGO_CFLAGS:-} -E -x c - >/dev/null 2>&1; then
		die "cuda.h not found: run scripts/install-cuda.sh (Debian's CUDA 11.8 headers), or set CGO_CFLAGS=-I/path/to/cuda/include"
	fi
	export CGO_ENABLED=1
	rm -rf "${dir:?}/bin" "${dir:?}/ptx"
	mkdir -p "$dir/bin" "$dir/ptx"
	local pkg name
	for pkg in ./gpu ./gpu/graphexec ./train ./eval ./cmd/suite; do
		name=$(basename "$pkg")
		echo "gpu-check: go test -c -tags gpu $pkg -> bin/$name.test"
		go test -c -tags gpu -ldflags='-s -w' -o "$dir/bin/$name.test" "$pkg"
	done
	for pkg in ./cmd/train ./cmd/eval; do
		name=$(basename "$pkg")
		echo "gpu-check: go build -tags gpu $pkg -> bin/$name"
		go build -tags gpu -ldflags='-s -w' -o "$dir/bin/$name" "$pkg"
	done
	cp kernels/cuda/ptx/*.ptx "$dir/ptx/"
	cp scripts/bench_torch_gpu.py scripts/bench_torch.py "$dir/"
	cp scripts/gpu-check.sh "$dir/gpu-check.sh"
	chmod +x "$dir/gpu-check.sh"
	# The tiny model of the -device cuda smoke run.
	cat >"$dir/smoke-config.json" <<-'EOF'
		{"hidden_size": 32, "intermediate_size": 64, "attention_key_size": 16, "num_hidden_layers": 2}
	EOF
	{
		echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
		echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
		echo "go: $(go version)"
		echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
	} >"$dir/BUILD_INFO"
	# Nothing links CUDA: the driver and cuBLAS are opened at run time.
	if command -v ldd >/dev/null; then
		if ldd "$dir/bin/gpu.test" | grep -Eq 'libcuda|libcublas|libcudart'; then
			die "bin/gpu.test links a CUDA library; it must load them at run time"
		fi
	fi
	bash -n "$dir/gpu-check.sh"
	du -sh "$dir" | awk '{print "gpu-check: " $1 " in " $2}'
	# The packed copy, for transfers with a size limit (results-* left out).
	local base
	base=$(basename "$dir")
	if command -v xz >/dev/null; then
		tar -C "$(dirname "$dir")" --exclude="$base/results-*" -cf - "$base" | xz -T0 -6 >"$dir.tar.xz.tmp"
		mv "$dir.tar.xz.tmp" "$dir.tar.xz"
		du -sh "$dir.tar.xz" | awk '{print "gpu-check: " $1 " in " $2}'
	else
		echo "gpu-check: no xz here: $dir.tar.xz not made (carry $dir itself)"
	fi
	echo "gpu-check: built. Carry $dir (or $dir.tar.xz, and unpack it there: tar -xJf $base.tar.xz) to the GPU machine and run: $base/gpu-check.sh"
}

if [[ ${1:-} == --build ]]; then
	shift
	build "$@"
	exit 0
fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,41p' "${BASH_SOURCE[0]}"
	exit 0
fi

# ---------------------------------------------------------------------------
# On the GPU machine
# ---------------------------------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$HERE/bin
[[ -x $BIN/gpu.test ]] || die "no $BIN/gpu.test: run this from the directory scripts/gpu-check.sh --build made (not from the repository)"
OUT=${1:-$HERE/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$OUT" # the tests write nothing outside their temp dirs; the smoke run writes here

BUDGET=${GPU_CHECK_BUDGET:-460} # seconds for everything (under 8 minutes)
T0=$SECONDS
FAILED=0
STATUS=() # "step|result|seconds|log"

left() { echo $((BUDGET - (SECONDS - T0))); }

# step NAME LIMIT KIND CMD...: runs CMD with the smaller of LIMIT and the
# time left (less RESERVE), logs to OUT/NAME.log. KIND "test" counts a
# failure (and a "no GPU" skip) against the exit status; "info" does not.
RESERVE=20
step() {
	local name=$1 limit=$2 kind=$3
	shift 3
	local log=$OUT/$name.log t=$SECONDS rc=0 lim
	lim=$(($(left) - RESERVE))
	((lim > limit)) && lim=$limit
	if ((lim < 10)); then
		echo "== $name: skipped, out of time" | tee "$log"
		STATUS+=("$name|SKIPPED (out of time)|0|$name.log")
		[[ $kind == test ]] && FAILED=1
		return 0
	fi
	echo "== $name (at most ${lim}s)"
	timeout --kill-after=10 "$lim" "$@" >"$log" 2>&1 || rc=$?
	local res=ok
	if ((rc == 124 || rc == 137)); then
		res="TIMED OUT after ${lim}s"
	elif ((rc != 0)); then
		res="FAILED (exit $rc)"
	fi
	if grep -q 'no GPU to test on' "$log"; then # a skip is a failure here
		res="FAILED (skipped: no GPU found; see the log)"
	fi
	# compute-sanitizer refuses devices under some sandboxes (gVisor):
	# memcheck did not run, which is not a kernel failing it.
	if ((rc != 0)) && grep -q 'Device not supported' "$log"; then
		res="NOT RUN (compute-sanitizer: Device not supported on this machine; see the log)"
	fi
	grep -E -- '^(--- FAIL|FAIL|panic:|========= (Invalid|Program hit|ERROR SUMMARY: [1-9]))' "$log" | head -20 || true
	echo "   $res ($((SECONDS - t))s) -> $log"
	STATUS+=("$name|$res|$((SECONDS - t))|$name.log")
	[[ $kind == test && $res != ok ]] && FAILED=1
	return 0
}

echo "gpu-check: results in $OUT (budget ${BUDGET}s)"
[[ -f $HERE/BUILD_INFO ]] && sed 's/^/  /' "$HERE/BUILD_INFO"

# The driver and the device.
GPU_NAME=unknown
if command -v nvidia-smi >/dev/null; then
	nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
	GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo unknown)
	echo "gpu-check: device: $GPU_NAME"
else
	echo "gpu-check: nvidia-smi not found (the tests will say whether the driver loads)"
fi

# cuBLAS: wherever it is installed (a CUDA toolkit, a pip wheel, a conda env).
# libcublas.so.12 first (any CUDA 12 or 13 driver runs it), then .13, .11.
findall() { # name pattern, at most a minute
	timeout 60 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name "$1" -print 2>/dev/null | sort || true
}
CUBLAS=""
CANDIDATES=$(findall 'libcublas.so*')
for v in 12 13 11; do
	CUBLAS=$(grep -E "/libcublas\.so\.$v$" <<<"$CANDIDATES" | head -1 || true)
	[[ -n $CUBLAS ]] && break
done
if [[ -z $CUBLAS ]]; then
	CUBLAS=$(grep -E '/libcublas\.so\.1[1-9][0-9.]*$' <<<"$CANDIDATES" | head -1 || true)
fi
if [[ -n $CUBLAS ]]; then
	LD_LIBRARY_PATH="$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
	export GAUALPHA_CUBLAS=$CUBLAS
	echo "gpu-check: cuBLAS: $CUBLAS"
else
	echo "gpu-check: WARNING: no libcublas.so.11/12/13 found anywhere; every GEMM (and so every model test) will fail" >&2
fi
SANITIZER=$(command -v compute-sanitizer || true)
if [[ -z $SANITIZER ]]; then
	SANITIZER=$(findall compute-sanitizer | while read -r f; do [[ -f $f && -x $f ]] && echo "$f"; done | tail -1 || true)
fi
PY=""
for p in ${PYTHON:-} python3 /usr/bin/python3 /opt/conda/bin/python python; do
	if command -v "$p" >/dev/null && "$p" -c 'import torch' >/dev/null 2>&1; then
		PY=$p
		break
	fi
done
PYTABLE=$PY
if [[ -z $PYTABLE ]]; then
	PYTABLE=$(command -v python3 || true)
fi

# (a) the tests.
unset GAUALPHA_GPU_TIMING
step kernels 150 test "$BIN/gpu.test" -test.v -test.count=1
step model 100 test "$BIN/graphexec.test" -test.v -test.count=1
step training 120 test "$BIN/train.test" -test.v -test.count=1 -test.run '^TestDevice'
step evaluation 100 test "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestDevice'
step suite 60 test "$BIN/suite.test" -test.v -test.count=1 -test.run '^TestSuiteOnDevice$'
# cmd/train and cmd/eval with -device cuda on a tiny model (a function run
# under timeout through bash -c, hence the exports).
export BIN HERE OUT
# shellcheck disable=SC2317 # run through bash -c
smoke() {
	set -euo pipefail
	"$BIN/train" -device cuda -config "$HERE/smoke-config.json" -steps 40 -batch 16 -seq-len 32 -eval-every 20 \
		-eval-seqs 32 -eval-lengths 64,256 -eval-docs 3 -quiet -overwrite -out "$OUT/smoke-run"
	for dev in cuda cpu; do
		echo "cmd/eval -device $dev:"
		"$BIN/eval" -ckpt "$OUT/smoke-run/best" -device "$dev" -protocol paper -positions 16 -lengths 64,256 -docs 3 -quiet
	done
	echo "cmd/eval -device cuda -precision bf16:"
	"$BIN/eval" -ckpt "$OUT/smoke-run/best" -device cuda -precision bf16 -protocol paper -positions 16 -lengths 64,256 -docs 3 -quiet
	echo "cmd/train -device cuda -precision bf16:"
	"$BIN/train" -device cuda -precision bf16 -config "$HERE/smoke-config.json" -steps 20 -batch 16 -seq-len 32 \
		-eval-every 10 -eval-seqs 32 -no-eval -quiet -overwrite -out "$OUT/smoke-bf16"
}
export -f smoke
step commands 90 test bash -c smoke

# (c) timings.
export GAUALPHA_GPU_TIMING=1
step time-attention 90 info "$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestTimeAttention$'
step time-train 120 info "$BIN/train.test" -test.v -test.count=1 -test.run '^TestTimeTrainStep$'
step time-sweep 90 info "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestTimePaperSweep$'
unset GAUALPHA_GPU_TIMING
if [[ -n $PY ]]; then
	step time-torch 150 info "$PY" "$HERE/bench_torch_gpu.py"
else
	echo 'GAUALPHA_TIMING {"case": "torch", "error": "no Python with PyTorch found (set PYTHON=...)"}' >"$OUT/time-torch.log"
	STATUS+=("time-torch|not run (no Python with PyTorch; set PYTHON=)|0|time-torch.log")
fi

# (b) memcheck: the kernel tests, then the whole model.
if [[ -n $SANITIZER ]]; then
	echo "gpu-check: compute-sanitizer: $SANITIZER"
	# The tensor-core forward shares tiles between warps that the emulator
	# runs in lock step: racecheck looks for the shared-memory hazards it
	# cannot show.
	step racecheck-tc 60 test "$SANITIZER" --tool racecheck --error-exitcode 97 --print-limit 20 \
		"$BIN/gpu.test" -test.count=1 -test.run '^TestAttentionTensorCores$/^(rope|streamingllm|B=2)$'
	step memcheck-kernels 200 test "$SANITIZER" --tool memcheck --error-exitcode 97 --print-limit 20 \
		"$BIN/gpu.test" -test.count=1
	step memcheck-model 120 test "$SANITIZER" --tool memcheck --error-exitcode 97 --print-limit 20 \
		"$BIN/graphexec.test" -test.count=1 -test.run '^TestModelMatchesCPU$/^(rope-softmax|rerope-softmaxplus)$'
else
	echo "gpu-check: compute-sanitizer not found: memcheck not run" >&2
	STATUS+=("memcheck|NOT RUN (no compute-sanitizer on this machine)|0|-")
	FAILED=1
fi

# (d) the table.
REPORT=$OUT/gpu-check.md
{
	echo "# GPU check, $(date -u +%Y-%m-%d)"
	echo
	echo "Device: $GPU_NAME. cuBLAS: ${CUBLAS:-none}. compute-sanitizer: ${SANITIZER:-none}. Python: ${PY:-none}."
	[[ -f $HERE/BUILD_INFO ]] && sed 's/^/Build /; s/$/  /' "$HERE/BUILD_INFO"
	echo
	echo "| step | result | seconds | log |"
	echo "|---|---|---:|---|"
	for s in "${STATUS[@]}"; do
		IFS='|' read -r n r sec l <<<"$s"
		echo "| $n | $r | $sec | $l |"
	done
	echo
	if [[ -n $PYTABLE ]]; then
		"$PYTABLE" "$HERE/bench_torch_gpu.py" --table "$OUT"/time-*.log || echo "(the table script failed)"
	else
		echo "No Python to draw the table; the timing lines:"
		echo
		grep -h 'GAUALPHA_TIMING' "$OUT"/time-*.log | sed 's/^.*GAUALPHA_TIMING /    /' || true
	fi
	echo
	echo "Total: $((SECONDS - T0)) s. Overall: $([[ $FAILED == 0 ]] && echo PASS || echo FAIL)."
} >"$REPORT"
echo
cat "$REPORT"
echo
echo "gpu-check: written to $REPORT"
exit $FAILED

#!/usr/bin/env bash
# The GPU check in one command (docs/gpu.md, docs/gpu-results.md).
#
# Here, with Go and the CUDA 11.8 headers (scripts/install-cuda.sh):
#
#     scripts/gpu-check.sh --build [DIR]      # default DIR: out/gpu-check
#
# builds, with -tags gpu, the test binaries of ./gpu, ./gpu/graphexec,
# ./train, ./eval and ./cmd/suite, cmd/train and cmd/eval (stripped), copies
# the kernel names, the PyTorch scripts and this script into DIR,
# and packs DIR into DIR.tar.gz (under 64 MiB; gzip, which tar unpacks
# anywhere: tar -xzf, or python3 -m tarfile -e). On any machine with an
# NVIDIA GPU and its driver (no Go, no network; PyTorch with CUDA and
# compute-sanitizer optional), unpack it and run:
#
#     gpu-check/gpu-check.sh [RESULTS_DIR]    # default: gpu-check/results-<date>
#
# Within GPU_CHECK_BUDGET seconds (default 550, so that one call of ten
# minutes covers unpacking and copying the results):
#   preflight  (first 30 s) nvidia-smi, the driver's CUDA version, which
#              cuBLAS loads and its version (looked up in the loader's path,
#              /usr/local/cuda*, the Python nvidia wheels and conda, .13
#              first, as package gpu does; a bounded search only if none is
#              there), each module's load time, every kernel's registers,
#              local memory and occupancy (gpu.TestPreflight);
#   tests      run concurrently: the kernels, the whole model, device
#              training and evaluation against the CPU, the suite, and
#              cmd/train and cmd/eval -device cuda on a tiny model (the
#              GEMM steps read NOT RUN at once when no cuBLAS loads);
#   timings    one at a time, SM clocks logged (clocks.csv): the attention
#              forward and backward at B = 1 and 8, L = 1024, 4096, 16384,
#              float32 and bf16, for each path of gpu's attnPaths, the
#              paper-size training step, the paper protocol's sweep, and
#              the same attention and step in PyTorch eager and SDPA;
#   sanitizers compute-sanitizer memcheck and racecheck, narrowed to our
#              kernels, API-error reports off, with the time left.
# RESULTS_DIR/gpu-check.md (the table) and every log are written after each
# step, so a run that is killed still leaves what it did. A step not run
# for lack of time, GPU, cuBLAS or sanitizer reads NOT RUN, not FAILED.
# Exit status: 0 every test and sanitizer step passed; 1 something failed;
# 3 nothing failed but something did not run.
#
#     gpu-check/gpu-check.sh --dry-run [RESULTS_DIR]
#
# runs the same control flow without a GPU: each step checks that its
# binary starts and that its -test.run pattern names tests, then sleeps
# GPU_CHECK_DRY_SLEEP seconds (default 2).
#
# `bash -n scripts/gpu-check.sh` checks the syntax anywhere.
set -uo pipefail

die() {
	echo "gpu-check: $*" >&2
	exit 2
}

# ---------------------------------------------------------------------------
# --build: here
# ---------------------------------------------------------------------------
build() {
	set -e
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
	mkdir -p "$dir/bin"
	local pkg name
	for pkg in ./gpu ./gpu/graphexec ./train ./eval ./cmd/suite; do
		name=$(basename "$pkg")
		echo "gpu-check: go test -c -tags gpu $pkg -> bin/$name.test"
		go test -c -tags gpu -trimpath -ldflags='-s -w' -o "$dir/bin/$name.test" "$pkg"
	done
	for pkg in ./cmd/train ./cmd/eval; do
		name=$(basename "$pkg")
		echo "gpu-check: go build -tags gpu $pkg -> bin/$name"
		go build -tags gpu -trimpath -ldflags='-s -w' -o "$dir/bin/$name" "$pkg"
	done
	# The kernels compute-sanitizer checks (--kernel-name kne=NAME each).
	sed -n 's/^\.visible \.entry \([A-Za-z0-9_]*\).*/\1/p' kernels/cuda/ptx/*.ptx | sort -u >"$dir/kernels.txt"
	[[ -s $dir/kernels.txt ]] || die "no .entry in kernels/cuda/ptx/*.ptx"
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
	} >"$dir/BUILD_INFO"
	# Nothing links CUDA: the driver and cuBLAS are opened at run time.
	if command -v ldd >/dev/null; then
		if ldd "$dir/bin/gpu.test" | grep -Eq 'libcuda|libcublas|libcudart'; then
			die "bin/gpu.test links a CUDA library; it must load them at run time"
		fi
	fi
	bash -n "$dir/gpu-check.sh"
	du -sh "$dir" | awk '{print "gpu-check: " $1 " in " $2}'
	# The packed copy (results-* and the JIT cache left out), gzip: any tar
	# unpacks it.
	local base archive limit=$((64 * 1024 * 1024)) size
	base=$(basename "$dir")
	archive="$dir.tar.gz"
	rm -f "$dir.tar.xz" # an older format of this script
	tar -C "$(dirname "$dir")" --exclude="$base/results-*" --exclude="$base/cuda-cache" -cf - "$base" | gzip -9 >"$archive.tmp"
	mv "$archive.tmp" "$archive"
	size=$(wc -c <"$archive")
	echo "gpu-check: $archive: $size bytes ($((size / 1024 / 1024)) MiB; limit $((limit / 1024 / 1024)) MiB)"
	((size < limit)) || die "$archive is $size bytes, over 64 MiB"
	echo "gpu-check: built. Copy $archive to the GPU machine, unpack it (tar -xzf $base.tar.gz) and run: $base/gpu-check.sh [RESULTS_DIR]"
}

case ${1:-} in
--build)
	shift
	build "$@"
	exit 0
	;;
-h | --help)
	sed -n '2,52p' "${BASH_SOURCE[0]}"
	exit 0
	;;
esac
DRY=0
if [[ ${1:-} == --dry-run ]]; then
	DRY=1
	shift
fi
[[ ${1:-} == -* ]] && die "unknown option $1 (--build [DIR], --dry-run [RESULTS_DIR], --help)"

# ---------------------------------------------------------------------------
# On the GPU machine
# ---------------------------------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$HERE/bin
[[ -x $BIN/gpu.test ]] || die "no $BIN/gpu.test: run this from the directory scripts/gpu-check.sh --build made (not from the repository)"
OUT=${1:-$HERE/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
cd "$OUT" || die "cannot enter $OUT" # the smoke run writes here; the tests only in their temp dirs

BUDGET=${GPU_CHECK_BUDGET:-550}
[[ $BUDGET =~ ^[0-9]+$ ]] || die "GPU_CHECK_BUDGET=$BUDGET: want whole seconds"
RESERVE=5 # seconds kept for the last table
T0=$SECONDS
left() { echo $((BUDGET - (SECONDS - T0))); }

# The driver's JIT cache: the preflight compiles the PTX once; every later
# process (and compute-sanitizer) reads it.
if [[ -z ${CUDA_CACHE_PATH:-} ]]; then
	if [[ -w $HERE ]]; then
		CUDA_CACHE_PATH=$HERE/cuda-cache
	else
		CUDA_CACHE_PATH=${TMPDIR:-/tmp}/gaualpha-cuda-cache
	fi
fi
export CUDA_CACHE_PATH CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
mkdir -p "$CUDA_CACHE_PATH"

# ---- steps, results, the table ---------------------------------------------
# Each step: a planned limit (seconds), a kind (test: counts for the exit
# status; info: timings, reported only; san: a sanitizer) and whether it
# needs cuBLAS. The planned limits add up to the default budget: preflight
# 30, the concurrent tests 150, the timings 260, the sanitizers 100.
STEPS=(preflight kernels model training evaluation suite commands
	time-attention time-train time-sweep time-torch
	racecheck-tc memcheck-kernels memcheck-model)
declare -A PLAN=([preflight]=30 [kernels]=150 [model]=150 [training]=150 [evaluation]=150 [suite]=150 [commands]=150
	[time-attention]=80 [time-train]=40 [time-sweep]=40 [time-torch]=100
	[racecheck-tc]=25 [memcheck-kernels]=45 [memcheck-model]=30)
declare -A KIND=([preflight]=test [kernels]=test [model]=test [training]=test [evaluation]=test [suite]=test [commands]=test
	[time-attention]=info [time-train]=info [time-sweep]=info [time-torch]=info
	[racecheck-tc]=san [memcheck-kernels]=san [memcheck-model]=san)
declare -A NEEDS_BLAS=([model]=1 [training]=1 [evaluation]=1 [suite]=1 [commands]=1 [time-train]=1 [time-sweep]=1 [memcheck-model]=1)
declare -A RES SEC START PID GIVEN
for s in "${STEPS[@]}"; do RES[$s]="NOT RUN (not reached)"; done

GPU_NAME=unknown
CUDA_VER=unknown
CUBLAS=""
CUBLAS_VER=""
SANITIZER=""
PY=""
PYTABLE=$(command -v python3 || true)
NOTES=()

# status RESULT: the class of a result for the overall verdict.
class() {
	case $1 in
	ok*) echo ok ;;
	"NOT RUN"* | "NOT FINISHED"* | running*) echo notrun ;;
	*) echo fail ;;
	esac
}

verdict() {
	local s c fail=0 notrun=0
	for s in "${STEPS[@]}"; do
		[[ ${KIND[$s]} == info ]] && continue
		c=$(class "${RES[$s]}")
		[[ $c == fail ]] && fail=1
		[[ $c == notrun ]] && notrun=1
	done
	if ((fail)); then echo FAIL; elif ((notrun)); then echo INCOMPLETE; else echo PASS; fi
}

# write_table [FINAL]: RESULTS_DIR/gpu-check.md from what is known now
# (written to a temporary file and renamed, so it is always whole).
write_table() {
	local final=${1:-} s r n sec
	local report=$OUT/gpu-check.md
	{
		echo "# GPU check, $(date -u +%Y-%m-%d)$([[ $DRY == 1 ]] && echo ' (dry run: nothing measured)')"
		echo
		echo "Device: $GPU_NAME; driver CUDA $CUDA_VER. cuBLAS: ${CUBLAS:-none}${CUBLAS_VER:+ ($CUBLAS_VER)}. compute-sanitizer: ${SANITIZER:-none}. Python with PyTorch: ${PY:-none}."
		[[ -f $HERE/BUILD_INFO ]] && sed 's/^/Build /; s/$/  /' "$HERE/BUILD_INFO"
		for n in "${NOTES[@]}"; do echo "- $n"; done
		echo
		echo "| step | result | seconds | log |"
		echo "|---|---|---:|---|"
		for s in "${STEPS[@]}"; do
			r=${RES[$s]}
			sec=${SEC[$s]:-}
			if [[ $r == running* ]]; then
				sec=$((SECONDS - START[$s]))
				r="running for $sec s (at most ${GIVEN[$s]} s)"
				[[ -n $final ]] && r="NOT FINISHED (the check was stopped after $sec s)"
			fi
			echo "| $s | $r | $sec | $([[ -f $OUT/$s.log ]] && echo "$s.log" || echo -) |"
		done
		echo
		if ls "$OUT"/time-*.log >/dev/null 2>&1; then
			local clocks=()
			[[ -s $OUT/clocks.csv ]] && clocks=(--clocks "$OUT/clocks.csv")
			if [[ -n $PYTABLE ]] && "$PYTABLE" "$HERE/bench_torch_gpu.py" --table "$OUT"/time-*.log "${clocks[@]}" 2>/dev/null; then
				:
			else
				echo "The timing lines (no Python to draw the tables):"
				echo
				grep -h 'GAUALPHA_TIMING' "$OUT"/time-*.log | sed 's/^.*GAUALPHA_TIMING /    /' || true
			fi
			echo
		fi
		if [[ -n $final ]]; then
			echo "Total: $((SECONDS - T0)) s of a budget of $BUDGET s. Overall: $(verdict)."
		else
			echo "Written after $((SECONDS - T0)) s of a budget of $BUDGET s, while the check ran: it rewrites this table as steps start and end and every 10 s, so a table that ends with this line was cut off there."
		fi
	} >"$report.tmp" 2>/dev/null && mv -f "$report.tmp" "$report"
}

# finish NAME RC: the result of a step from its exit status and its log.
finish() {
	local s=$1 rc=$2 log=$OUT/$1.log res
	local given=${GIVEN[$s]} plan=${PLAN[$s]} kind=${KIND[$s]}
	SEC[$s]=$((SECONDS - START[$s]))
	res=ok
	if ((rc == 124 || rc == 137)); then
		if ((given < plan)) || [[ $kind == san ]]; then
			res="NOT FINISHED (out of time: stopped after ${given} s)"
		else
			res="TIMED OUT after ${given} s"
		fi
	elif ((rc != 0)); then
		res="FAILED (exit $rc)"
	fi
	if [[ $kind == san ]] && grep -Eq '^========= (Invalid|Error|Program hit|ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9])' "$log"; then
		res="FAILED (the sanitizer reports errors; see the log)"
	elif [[ $kind == san ]] && ((rc != 0)) && grep -q 'Device not supported' "$log"; then
		# compute-sanitizer refuses devices under some sandboxes (gVisor).
		res="NOT RUN (compute-sanitizer: Device not supported on this machine)"
	elif [[ $kind == san ]] && ((rc != 0)) && grep -q 'Unable to find injection library' "$log"; then
		res="NOT RUN (compute-sanitizer is incomplete here: no injection library)"
	elif [[ $DRY == 0 && $kind != info ]] && grep -q 'no GPU to test on' "$log"; then
		res="FAILED (skipped: no GPU found; see the log)"
	fi
	[[ $res == ok && $DRY == 1 ]] && res="ok (dry run)"
	RES[$s]=$res
	grep -E -- '^(--- FAIL|FAIL|panic:|========= (Invalid|Error|Program hit|ERROR SUMMARY: [1-9]))' "$log" 2>/dev/null | head -20
	echo "   $s: $res (${SEC[$s]} s) -> $log"
	unset "PID[$s]"
	write_table
}

# not_run NAME WHY
not_run() {
	RES[$1]="NOT RUN ($2)"
	SEC[$1]=0
	echo "== $1: NOT RUN ($2)"
	write_table
}

# start NAME CMD...: starts CMD in the background under timeout, with the
# smaller of the step's planned limit and the time left (less RESERVE);
# NOT RUN when under 10 s are left.
start() {
	local s=$1 lim
	shift
	lim=$(($(left) - RESERVE))
	((lim > PLAN[$s])) && lim=${PLAN[$s]}
	if ((lim < 10)); then
		not_run "$s" "out of time: $(($(left))) s of the budget left"
		return 1
	fi
	GIVEN[$s]=$lim
	START[$s]=$SECONDS
	RES[$s]="running"
	echo "== $s (at most ${lim} s)"
	if [[ $DRY == 1 ]]; then
		timeout --kill-after=5 "$lim" bash -c 'dry "$@"' dry "$@" >"$OUT/$s.log" 2>&1 &
	else
		timeout --kill-after=5 "$lim" "$@" >"$OUT/$s.log" 2>&1 &
	fi
	PID[$s]=$!
	write_table
	return 0
}

# await NAME...: waits for the started steps among NAME..., recording each
# as it ends.
await() {
	local s rc pending=1 last=$SECONDS
	while ((pending)); do
		pending=0
		for s in "$@"; do
			[[ -n ${PID[$s]:-} ]] || continue
			if kill -0 "${PID[$s]}" 2>/dev/null; then
				pending=1
				continue
			fi
			wait "${PID[$s]}"
			rc=$?
			finish "$s" "$rc"
		done
		((pending)) && sleep 1
		if ((SECONDS - last >= 10)); then
			write_table
			last=$SECONDS
		fi
	done
}

CLOCKS_PID=""
PYPROBE=""
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
	local s
	trap - EXIT INT TERM
	for s in "${!PID[@]}"; do
		kill -TERM "${PID[$s]}" 2>/dev/null
	done
	[[ -n $CLOCKS_PID ]] && kill "$CLOCKS_PID" 2>/dev/null
	[[ -n $PYPROBE ]] && kill "$PYPROBE" 2>/dev/null
	write_table final
}
trap on_exit EXIT
trap 'echo "gpu-check: stopped by a signal" >&2; exit 1' INT TERM

# dry CMD...: the dry run's stand-in for a step: the binary must start, a
# test binary must list tests for its -test.run pattern's first part.
# shellcheck disable=SC2317 # run through bash -c
dry() {
	local bin=$1 pat="" a prev=""
	echo "dry run: $*"
	shift
	if [[ $(basename "$bin") == compute-sanitizer || $bin == sanitizer ]]; then
		while [[ $# -gt 0 && $1 != */bin/* ]]; do shift; done
		bin=$1
		shift
	fi
	for a in "$@"; do
		[[ $prev == -test.run ]] && pat=$a
		prev=$a
	done
	case $bin in
	*.test)
		pat=${pat%%/*}
		"$bin" -test.list "${pat:-.}" >list.$$ 2>&1 || {
			cat list.$$
			rm -f list.$$
			return 1
		}
		if [[ ! -s list.$$ ]]; then
			echo "dry run: $bin lists no test for -test.run '$pat'"
			rm -f list.$$
			return 1
		fi
		sed 's/^/  test: /' list.$$
		rm -f list.$$
		;;
	bash) [[ -x $BIN/train && -x $BIN/eval ]] || return 1 ;;
	*python*) "$bin" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$HERE/bench_torch_gpu.py" || return 1 ;;
	*) [[ -x $bin ]] || return 1 ;;
	esac
	sleep "${GPU_CHECK_DRY_SLEEP:-2}"
}
export -f dry
export HERE BIN

echo "gpu-check: results in $OUT (budget ${BUDGET} s)$([[ $DRY == 1 ]] && echo '; dry run')"
[[ -f $HERE/BUILD_INFO ]] && sed 's/^/  /' "$HERE/BUILD_INFO"
write_table

# ---- preflight ---------------------------------------------------------------
# The Python probe (importing torch takes seconds) runs meanwhile.
probe_python() {
	local p
	for p in ${PYTHON:-} python3 /usr/bin/python3 /opt/conda/bin/python /usr/local/bin/python3 python; do
		command -v "$p" >/dev/null || continue
		if timeout 25 "$p" -c 'import torch' >/dev/null 2>&1; then
			command -v "$p"
			return 0
		fi
	done
}
probe_python >"$OUT/.python" 2>/dev/null &
PYPROBE=$!

# find_cublas [CUDA_MAJOR]: the first cuBLAS in package gpu's order
# (gpu/cublas_search.go): GAUALPHA_CUBLAS; then, for libcublas.so.13, .12,
# .11 (those the driver runs), the loader's path (LD_LIBRARY_PATH, the
# ldconfig cache) and the toolkit, wheel and conda folders.
find_cublas() {
	local max=${1:-0} v d name f pat
	if [[ -n ${GAUALPHA_CUBLAS:-} && -f $GAUALPHA_CUBLAS ]]; then
		echo "$GAUALPHA_CUBLAS"
		return
	fi
	local -a ld=() dirs=()
	IFS=: read -r -a ld <<<"${LD_LIBRARY_PATH:-}"
	for pat in /usr/local/cuda/lib64 "/usr/local/cuda-*/lib64" "/usr/local/cuda/targets/*/lib" "/usr/local/cuda-*/targets/*/lib" \
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib" "/usr/local/lib/python3*/site-packages/nvidia/*/lib" \
		"/usr/lib/python3/dist-packages/nvidia/*/lib" "/usr/lib/python3*/site-packages/nvidia/*/lib" \
		"/opt/conda/lib/python3*/site-packages/nvidia/*/lib" /opt/conda/lib "/root/.local/lib/python3*/site-packages/nvidia/*/lib" \
		${VIRTUAL_ENV:+"$VIRTUAL_ENV/lib/python3*/site-packages/nvidia/*/lib"} \
		${CONDA_PREFIX:+"$CONDA_PREFIX/lib/python3*/site-packages/nvidia/*/lib" "$CONDA_PREFIX/lib"}; do
		# Newest first within a pattern (cuda-12.8 before cuda-12.4), as Go.
		# shellcheck disable=SC2086 # the pattern is globbed on purpose
		while IFS= read -r d; do [[ -d $d ]] && dirs+=("$d"); done < <(printf '%s\n' $pat | sort -r)
	done
	for v in 13 12 11; do
		((max > 0 && v > max)) && continue
		name=libcublas.so.$v
		for d in "${ld[@]}"; do # the loader: LD_LIBRARY_PATH, then its cache
			[[ -n $d && -f $d/$name ]] && echo "$d/$name" && return
		done
		f=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}')
		[[ -n $f ]] && echo "$f" && return
		for d in "${dirs[@]}"; do
			[[ -f $d/$name ]] && echo "$d/$name" && return
		done
	done
}

# find_sanitizer: compute-sanitizer on PATH or in the toolkit's folders.
find_sanitizer() {
	local f
	command -v compute-sanitizer && return
	for f in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer \
		/usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer \
		/usr/local/lib/python3*/dist-packages/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer \
		/usr/local/lib/python3*/site-packages/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer; do
		[[ -f $f && -x $f ]] && echo "$f" && return
	done
}

START[preflight]=$SECONDS
GIVEN[preflight]=${PLAN[preflight]}
RES[preflight]=running
echo "== preflight"
PRE=$OUT/preflight.log
: >"$PRE"
if command -v nvidia-smi >/dev/null; then
	timeout 10 nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
	GPU_NAME=$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
	GPU_NAME=${GPU_NAME:-unknown (nvidia-smi answered nothing)}
	CUDA_VER=$(grep -o 'CUDA Version: *[0-9.]*' "$OUT/nvidia-smi.txt" | awk '{print $NF}' | head -1)
	CUDA_VER=${CUDA_VER:-unknown}
	echo "nvidia-smi: $GPU_NAME; driver CUDA $CUDA_VER" >>"$PRE"
else
	echo "nvidia-smi: not found" >>"$PRE"
	GPU_NAME="unknown (no nvidia-smi)"
fi
CUDA_MAJOR=0
[[ $CUDA_VER =~ ^([0-9]+) ]] && CUDA_MAJOR=${BASH_REMATCH[1]}
CUBLAS=$(find_cublas "$CUDA_MAJOR")
SANITIZER=$(find_sanitizer)
if [[ -z $CUBLAS || -z $SANITIZER ]]; then
	# One bounded search for what the known places lack.
	echo "searching / for $([[ -z $CUBLAS ]] && echo 'libcublas.so.1[1-3] ')$([[ -z $SANITIZER ]] && echo compute-sanitizer) (at most 15 s)" >>"$PRE"
	FOUND=$(timeout 15 find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
		\( -name 'libcublas.so.1[1-3]' -o -name compute-sanitizer \) -print 2>/dev/null | sort -r)
	if [[ -z $CUBLAS ]]; then
		for v in 13 12 11; do
			((CUDA_MAJOR > 0 && v > CUDA_MAJOR)) && continue
			CUBLAS=$(grep -m1 "/libcublas\.so\.$v\$" <<<"$FOUND")
			[[ -n $CUBLAS ]] && break
		done
	fi
	if [[ -z $SANITIZER ]]; then
		while IFS= read -r f; do [[ -f $f && -x $f ]] && SANITIZER=$f && break; done < <(grep '/compute-sanitizer$' <<<"$FOUND")
	fi
fi
if [[ -n $CUBLAS ]]; then
	export GAUALPHA_CUBLAS=$CUBLAS
	LD_LIBRARY_PATH="$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
echo "cuBLAS found by the script: ${CUBLAS:-none}" >>"$PRE"
echo "compute-sanitizer: ${SANITIZER:-none}" >>"$PRE"
pre_lim=$(($(left) - RESERVE))
((pre_lim > 25)) && pre_lim=25
((pre_lim < 5)) && pre_lim=5
NO_GPU=""
GAUALPHA_PREFLIGHT_OUT=$OUT/preflight-go.md timeout --kill-after=5 "$pre_lim" \
	"$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestPreflight$' >>"$PRE" 2>&1
pre_rc=$?
SUMMARY=$(grep -m1 '^GAUALPHA_PREFLIGHT ' "$PRE" | sed 's/^GAUALPHA_PREFLIGHT //')
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$SUMMARY"; }
GO_CUBLAS=$(json_field cublas)
CUBLAS_VER=$(json_field cublas_version)
if [[ -n $GO_CUBLAS ]]; then
	if [[ $GO_CUBLAS != "$CUBLAS" ]]; then
		NOTES+=("package gpu loaded cuBLAS $GO_CUBLAS (the script found ${CUBLAS:-none}); the steps use $GO_CUBLAS")
		CUBLAS=$GO_CUBLAS
		export GAUALPHA_CUBLAS=$CUBLAS
	fi
elif [[ -n $SUMMARY ]]; then
	# Package gpu's answer is what every binary will load: none.
	[[ -n $CUBLAS ]] && NOTES+=("the script found $CUBLAS but package gpu loads no cuBLAS: $(json_field cublas_error | cut -c1-300)")
	CUBLAS=""
	unset GAUALPHA_CUBLAS
fi
{
	echo "# Preflight"
	echo
	sed 's/$/  /' <(grep -E '^(nvidia-smi|cuBLAS found|compute-sanitizer|searching)' "$PRE")
	echo
	[[ -f $OUT/preflight-go.md ]] && sed '1,2d' "$OUT/preflight-go.md"
} >"$OUT/preflight.md"
SEC[preflight]=$((SECONDS - START[preflight]))
if grep -q 'no GPU to test on' "$PRE"; then
	NO_GPU=$(grep -m1 -o 'no GPU to test on: .*' "$PRE" | cut -c1-200)
	RES[preflight]="FAILED ($NO_GPU)"
elif ((pre_rc == 124 || pre_rc == 137)); then
	RES[preflight]="FAILED (timed out after ${pre_lim} s; see preflight.log)"
elif ((pre_rc != 0)); then
	RES[preflight]="FAILED (exit $pre_rc; see preflight.md and preflight.log)"
else
	RES[preflight]="ok ($(json_field device), driver CUDA $(json_field driver))"
fi
[[ -z $CUBLAS_VER && -n $CUBLAS ]] && CUBLAS_VER=unknown
echo "   preflight: ${RES[preflight]} (${SEC[preflight]} s) -> $OUT/preflight.md"
echo "   cuBLAS: ${CUBLAS:-none}${CUBLAS_VER:+ ($CUBLAS_VER)}; compute-sanitizer: ${SANITIZER:-none}"
write_table

# skip_reason NAME: why NAME cannot run here ("" if it can).
skip_reason() {
	[[ $DRY == 1 ]] && return
	if [[ -n $NO_GPU ]]; then
		echo "no GPU: the preflight opened no device"
	elif [[ -n ${NEEDS_BLAS[$1]:-} && -z $CUBLAS ]]; then
		echo "no cuBLAS: none found or loaded (set GAUALPHA_CUBLAS=/path/to/libcublas.so.N)"
	fi
}

# step NAME CMD...: starts NAME unless it cannot run here.
step() {
	local why
	why=$(skip_reason "$1")
	if [[ -n $why ]]; then
		not_run "$1" "$why"
		return 1
	fi
	start "$@"
}

# ---- the tests, concurrently ---------------------------------------------------
unset GAUALPHA_GPU_TIMING
SKIP='^TestPreflight$'
[[ -z $CUBLAS && $DRY == 0 ]] && SKIP='^(TestPreflight|TestSgemm)$'
step kernels "$BIN/gpu.test" -test.v -test.count=1 -test.skip "$SKIP"
step model "$BIN/graphexec.test" -test.v -test.count=1
step training "$BIN/train.test" -test.v -test.count=1 -test.run '^TestDevice'
step evaluation "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestDevice'
step suite "$BIN/suite.test" -test.v -test.count=1 -test.run '^TestSuiteOnDevice$'
# cmd/train and cmd/eval with -device cuda on a tiny model (a function run
# through bash -c, hence the exports).
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
step commands bash -c smoke
await kernels model training evaluation suite commands

# ---- the timings, one at a time --------------------------------------------------
wait "$PYPROBE" 2>/dev/null
PY=$(head -1 "$OUT/.python" 2>/dev/null)
rm -f "$OUT/.python"
[[ -n $PY ]] && PYTABLE=$PY
if [[ -z $(skip_reason time-attention) ]] && command -v nvidia-smi >/dev/null && [[ $DRY == 0 ]]; then
	nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv -l 1 \
		>"$OUT/clocks.csv" 2>/dev/null &
	CLOCKS_PID=$!
fi
export GAUALPHA_GPU_TIMING=1
step time-attention "$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestTimeAttention$' && await time-attention
step time-train "$BIN/train.test" -test.v -test.count=1 -test.run '^TestTimeTrainStep$' && await time-train
step time-sweep "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestTimePaperSweep$' && await time-sweep
unset GAUALPHA_GPU_TIMING
if [[ -n $PY || $DRY == 1 ]]; then
	# The script stops starting cases 15 s before its step's limit.
	tb=$(($(left) - RESERVE))
	((tb > PLAN[time-torch])) && tb=${PLAN[time-torch]}
	tb=$((tb - 15))
	((tb < 5)) && tb=5
	step time-torch "${PY:-python3}" "$HERE/bench_torch_gpu.py" --time-budget "$tb" && await time-torch
else
	echo 'GAUALPHA_TIMING {"case": "torch", "error": "no Python with PyTorch found (set PYTHON=...)"}' >"$OUT/time-torch.log"
	not_run time-torch "no Python with PyTorch; set PYTHON="
fi
if [[ -n $CLOCKS_PID ]]; then
	kill "$CLOCKS_PID" 2>/dev/null
	wait "$CLOCKS_PID" 2>/dev/null
	CLOCKS_PID=""
fi

# ---- the sanitizers, with the time left ------------------------------------------
if [[ -n $SANITIZER || $DRY == 1 ]]; then
	SAN=${SANITIZER:-compute-sanitizer}
	SANOPT=(--error-exitcode 97 --print-limit 20)
	# The options of this compute-sanitizer: API-error reports off, and the
	# kernel filter under its name of this version (--kernel-name since
	# 2023, --kernel-regex and --filter before; each takes kne=/kns=).
	if [[ -n $SANITIZER ]]; then
		SANHELP=$(timeout 10 "$SANITIZER" --help 2>&1)
	else
		SANHELP="--report-api-errors --kernel-name " # the dry run without one
	fi
	grep -q -- '--report-api-errors' <<<"$SANHELP" && SANOPT+=(--report-api-errors no)
	KFILTER=""
	for o in --kernel-name --kernel-regex --filter; do
		if grep -Eq -- "${o}[[:space:]]" <<<"$SANHELP"; then
			KFILTER=$o
			break
		fi
	done
	OURS=()
	if [[ -n $KFILTER && -s $HERE/kernels.txt ]]; then
		while IFS= read -r k; do OURS+=("$KFILTER" "kne=$k"); done <"$HERE/kernels.txt"
	fi
	# The tensor-core forward shares tiles between warps that the emulator
	# runs in lock step: racecheck looks for the shared-memory hazards it
	# cannot show.
	TC=()
	[[ -n $KFILTER ]] && TC=("$KFILTER" kns=attn_fwd_tc_bf16)
	step racecheck-tc "$SAN" --tool racecheck "${SANOPT[@]}" "${TC[@]}" \
		"$BIN/gpu.test" -test.count=1 -test.run '^TestAttentionTensorCores$/^(rope|streamingllm|B=2)$' && await racecheck-tc
	step memcheck-kernels "$SAN" --tool memcheck "${SANOPT[@]}" "${OURS[@]}" \
		"$BIN/gpu.test" -test.count=1 -test.skip "$SKIP" && await memcheck-kernels
	step memcheck-model "$SAN" --tool memcheck "${SANOPT[@]}" "${OURS[@]}" \
		"$BIN/graphexec.test" -test.count=1 -test.run '^TestModelMatchesCPU$/^(rope-softmax|rerope-softmaxplus)$' && await memcheck-model
else
	for s in racecheck-tc memcheck-kernels memcheck-model; do
		why=$(skip_reason "$s")
		not_run "$s" "${why:-no compute-sanitizer on this machine}"
	done
fi

# ---- the verdict -------------------------------------------------------------------
trap - EXIT INT TERM
write_table final
echo
cat "$OUT/gpu-check.md"
echo
echo "gpu-check: written to $OUT/gpu-check.md (with preflight.md and every step's log)"
case $(verdict) in
PASS) exit 0 ;;
FAIL) exit 1 ;;
*) exit 3 ;;
esac

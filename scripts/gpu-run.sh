#!/usr/bin/env bash
# The GPU check, on the GPU machine: the one command a device run needs
# (docs/gpu-results.md). Build first, here: scripts/gpu-check.sh --build
# (out/gpu-payload/gpu-payload.tar.xz, which the run carries). Then, from the
# repository root on the GPU machine:
#
#     scripts/gpu-run.sh OUTDIR                  # every step, about 8 minutes
#     scripts/gpu-run.sh --only STEP,... OUTDIR  # some steps (a second call)
#     scripts/gpu-run.sh --dry-run OUTDIR        # the same flow without a GPU
#
# It unpacks the payload (GPU_PAYLOAD, default out/gpu-payload/
# gpu-payload.tar.xz) into a temporary folder and runs the steps below in
# order of value, each under `timeout`, within GPU_RUN_BUDGET seconds
# (default 470): a step that no longer fits reads NOT RUN (out of time).
#
#   preflight   (first 30 s) nvidia-smi, the driver; which cuBLAS package gpu
#               finds and loads and its version (package cudalib's search; a
#               bounded search of / only if none loads, into a file);
#               compute-sanitizer; each module's load, every kernel's
#               registers, local memory and occupancy (gpu.TestPreflight)
#   device vs CPU, concurrently: the kernel tests (kernels), the model's
#               loss, logits and gradients (model), one training run
#               (train-step) and one evaluation (evaluation) on the device
#               against the CPU
#   timings, one at a time, SM clocks logged: the attention forward and
#               backward at L = 4096, B = 1 and 8, every path and precision
#               (time-attention); the paper-size training step at B = 8,
#               L = 512 in float32 and bf16 (time-train); PyTorch eager and
#               SDPA at the same shapes (time-torch, the Python of PATH, of
#               PYTHON, or /opt/*/.venv with torch)
#   sanitizers  compute-sanitizer memcheck and racecheck with one kernel
#               filter, kns=gau_ (every kernel of ours, none of cuBLAS's)
#   the rest    the other device tests, the suite, cmd/train and cmd/eval
#               -device cuda (commands), the attention at L = 1024 and 16384,
#               the paper protocol's sweep
#
# OUTDIR receives at most 8 files, rewritten after every step (and every
# 15 s), so a run that is killed still returns what it did:
#
#   summary.md    the step table, the timing tables, the verdict
#   timings.csv   every timing line (Go and PyTorch), one row each
#   preflight.md  the device, cuBLAS (every candidate tried), the kernels
#   logs.tar.gz   every step's log, nvidia-smi, the clocks, the library
#                 search (a log over 2 MiB is cut to its first and last MiB)
#
# Exit status: 0 every test and sanitizer step passed; 1 something failed
# (or no GPU was found); 2 a usage or set-up error; 3 nothing failed but
# something did not run. --dry-run runs the preflight for real (without a
# GPU it lists the libraries it would load), and for every other step checks
# that its binary starts and its test pattern names tests; each reads NOT
# RUN (dry run), or FAILED when that check fails.
#
# Settings: GPU_RUN_BUDGET (seconds), GPU_PAYLOAD (the archive), PYTHON (a
# Python with PyTorch), GAUALPHA_CUBLAS (a cuBLAS file), GPU_RUN_DRY_SLEEP
# (seconds each dry step waits, default 1).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() {
	echo "gpu-run: $*" >&2
	exit 2
}

# ---- arguments ---------------------------------------------------------------
DRY=0
ONLY=""
OUT=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--dry-run) DRY=1 ;;
	--only)
		[[ $# -ge 2 ]] || die "--only needs a comma-separated list of steps"
		ONLY=$2
		shift
		;;
	--only=*) ONLY=${1#--only=} ;;
	-h | --help)
		sed -n '2,54p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (--dry-run, --only STEP,..., --help)" ;;
	*)
		[[ -z $OUT ]] || die "one OUTDIR, got $OUT and $1"
		OUT=$1
		;;
	esac
	shift
done
[[ -n $OUT ]] || die "usage: scripts/gpu-run.sh [--dry-run] [--only STEP,...] OUTDIR"

STEPS=(preflight kernels model train-step evaluation
	time-attention time-train time-torch
	memcheck-kernels racecheck-tc memcheck-model
	model-rest train-rest eval-rest suite commands
	time-attention-more time-sweep)
# The planned limit of each step (seconds). Steps of one group run
# concurrently and end together; the groups' limits add up to about the
# default budget, and what a step leaves unused goes to the later ones.
declare -A PLAN=([preflight]=30
	[kernels]=60 [model]=60 [train-step]=60 [evaluation]=60
	[time-attention]=60 [time-train]=50 [time-torch]=80
	[memcheck-kernels]=40 [racecheck-tc]=20 [memcheck-model]=25
	[model-rest]=50 [train-rest]=50 [eval-rest]=50 [suite]=50 [commands]=50
	[time-attention-more]=35 [time-sweep]=25)
# Kinds: test (counts for the verdict), info (timings: reported only),
# san (a sanitizer: counts).
declare -A KIND=([time-attention]=info [time-train]=info [time-torch]=info [time-attention-more]=info [time-sweep]=info
	[memcheck-kernels]=san [racecheck-tc]=san [memcheck-model]=san)
# Steps that need cuBLAS (the GEMMs).
declare -A NEEDS_BLAS=([model]=1 [train-step]=1 [evaluation]=1 [time-attention]=1 [time-train]=1
	[memcheck-model]=1 [model-rest]=1 [train-rest]=1 [eval-rest]=1 [suite]=1 [commands]=1
	[time-attention-more]=1 [time-sweep]=1)
declare -A SELECTED RES SEC START PID GIVEN
for s in "${STEPS[@]}"; do
	KIND[$s]=${KIND[$s]:-test}
	RES[$s]="NOT RUN (not reached)"
	SELECTED[$s]=1
done
if [[ -n $ONLY ]]; then
	for s in "${STEPS[@]}"; do SELECTED[$s]=""; done
	IFS=, read -r -a only <<<"$ONLY"
	for s in "${only[@]}"; do
		[[ -n ${PLAN[$s]:-} ]] || die "--only: no step $s (steps: ${STEPS[*]})"
		SELECTED[$s]=1
	done
	SELECTED[preflight]=1 # every run needs the device and the libraries
fi

BUDGET=${GPU_RUN_BUDGET:-470}
[[ $BUDGET =~ ^[0-9]+$ ]] || die "GPU_RUN_BUDGET=$BUDGET: want whole seconds"
RESERVE=5 # seconds kept for the last publication
T0=$SECONDS
left() { echo $((BUDGET - (SECONDS - T0))); }

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gaualpha-gpu-run.XXXXXX") || die "cannot create a temporary folder"
LOGS=$WORK/logs
BIN=$WORK/bin
mkdir -p "$LOGS"

# ---- the payload ---------------------------------------------------------------
PAYLOAD=${GPU_PAYLOAD:-$ROOT/out/gpu-payload/gpu-payload.tar.xz}
[[ -f $PAYLOAD ]] || die "no payload $PAYLOAD: build it with scripts/gpu-check.sh --build and carry out/gpu-payload (or set GPU_PAYLOAD)"
if command -v xz >/dev/null && tar --version >/dev/null 2>&1; then
	tar -C "$WORK" -xJf "$PAYLOAD" || die "cannot unpack $PAYLOAD with tar -xJ"
elif command -v python3 >/dev/null; then
	python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PAYLOAD" "$WORK" ||
		die "cannot unpack $PAYLOAD with python3's tarfile"
else
	die "no xz and no python3 to unpack $PAYLOAD"
fi
[[ -x $BIN/gpu.test ]] || die "$PAYLOAD holds no bin/gpu.test"
NOTES=()
# The tree's scripts and the payload's record of them (a stale payload runs
# tests of another commit).
while read -r sum file; do
	if [[ -f $ROOT/$file ]] && [[ $(sha256sum "$ROOT/$file" | cut -d' ' -f1) != "$sum" ]]; then
		NOTES+=("$file differs from the one the payload was built with: rebuild with scripts/gpu-check.sh --build")
	fi
done < <(sed -n 's/^sha256: \([0-9a-f]*\)  \(scripts\/.*\)$/\1 \2/p' "$WORK/BUILD_INFO")

# The driver's JIT cache (if the fatbins' SASS does not fit the device).
export CUDA_CACHE_PATH=${CUDA_CACHE_PATH:-$WORK/cuda-cache}
mkdir -p "$CUDA_CACHE_PATH"

GPU_NAME=unknown
CUDA_VER=unknown
CUBLAS=""
CUBLAS_VER=""
SANITIZER=""
SANFILTER=""
PY=""
PYTABLE=$(command -v python3 || true)

# ---- results -------------------------------------------------------------------
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
		[[ ${KIND[$s]} == info || -z ${SELECTED[$s]} ]] && continue
		c=$(class "${RES[$s]}")
		[[ $c == fail ]] && fail=1
		[[ $c == notrun ]] && notrun=1
	done
	if ((fail)); then
		echo FAIL
	elif ((DRY)); then
		echo "PASS (dry run: flow and binaries checked, nothing measured)"
	elif ((notrun)); then
		echo INCOMPLETE
	else
		echo PASS
	fi
}

# summary [FINAL]: summary.md's text from what is known now.
summary() {
	local final=${1:-} s r sec n
	echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)$( ((DRY)) && echo ' (dry run: nothing measured)')"
	echo
	echo "Device: $GPU_NAME; driver CUDA $CUDA_VER. cuBLAS: ${CUBLAS:-none}${CUBLAS_VER:+ ($CUBLAS_VER)}."
	echo "compute-sanitizer: ${SANITIZER:-none}${SANFILTER:+ (filter: $SANFILTER kns=gau_)}. Python with PyTorch: ${PY:-none}."
	sed 's/^/Build /; s/$/  /' "$WORK/BUILD_INFO" | grep -v '^Build sha256' || true
	for n in "${NOTES[@]}"; do echo "- $n"; done
	echo
	echo "| step | result | seconds | log (in logs.tar.gz) |"
	echo "|---|---|---:|---|"
	for s in "${STEPS[@]}"; do
		r=${RES[$s]}
		sec=${SEC[$s]:-}
		if [[ $r == running* ]]; then
			sec=$((SECONDS - START[$s]))
			r="running for $sec s (at most ${GIVEN[$s]} s)"
			[[ -n $final ]] && r="NOT FINISHED (the run was stopped after $sec s)"
		fi
		echo "| $s | $r | $sec | $([[ -f $LOGS/$s.log ]] && echo "logs/$s.log" || echo -) |"
	done
	echo
	if ls "$LOGS"/time-*.log >/dev/null 2>&1; then
		local clocks=()
		[[ -s $LOGS/clocks.csv ]] && clocks=(--clocks "$LOGS/clocks.csv")
		if [[ -z $PYTABLE ]] || ! timeout 20 "$PYTABLE" "$ROOT/scripts/bench_torch_gpu.py" --table "$LOGS"/time-*.log "${clocks[@]}" 2>/dev/null; then
			echo "The timing lines (no Python to draw the tables):"
			echo
			grep -h 'GAUALPHA_TIMING' "$LOGS"/time-*.log | sed 's/^.*GAUALPHA_TIMING /    /' || true
		fi
		echo
	fi
	if [[ -n $final ]]; then
		echo "Total: $((SECONDS - T0)) s of a budget of $BUDGET s. Overall: $(verdict)."
	else
		echo "Written after $((SECONDS - T0)) s of a budget of $BUDGET s while the run went on: this file is rewritten after every step, so one that ends with this line was cut off here."
	fi
}

# put NAME: moves $OUT/.NAME.tmp onto $OUT/NAME.
put() { mv -f "$OUT/.$1.tmp" "$OUT/$1"; }

# pack_logs: logs.tar.gz from LOGS, a log over 2 MiB cut to its first and
# last MiB (the archive stays far under the 16 MiB a file may have).
pack_logs() {
	local stage=$WORK/pack f rel
	rm -rf "$stage"
	mkdir -p "$stage"
	(cd "$WORK" && find logs -type f) | while IFS= read -r rel; do
		f=$WORK/$rel
		mkdir -p "$stage/$(dirname "$rel")"
		if (($(stat -c %s "$f" 2>/dev/null || echo 0) > 2097152)); then
			{
				head -c 1048576 "$f"
				printf '\n\n[gpu-run: cut here; the log had %s bytes]\n\n' "$(stat -c %s "$f")"
				tail -c 1048576 "$f"
			} >"$stage/$rel"
		else
			ln "$f" "$stage/$rel" 2>/dev/null || cp "$f" "$stage/$rel"
		fi
	done
	tar -C "$stage" -czf "$OUT/.logs.tar.gz.tmp" logs 2>/dev/null && put logs.tar.gz
	rm -rf "$stage"
}

# publish [FINAL]: rewrites every file of OUTDIR.
publish() {
	summary "${1:-}" >"$OUT/.summary.md.tmp" 2>/dev/null && put summary.md
	if [[ -f $LOGS/preflight.md ]]; then
		cp "$LOGS/preflight.md" "$OUT/.preflight.md.tmp" && put preflight.md
	fi
	if ls "$LOGS"/time-*.log >/dev/null 2>&1; then
		if [[ -n $PYTABLE ]] && timeout 20 "$PYTABLE" "$ROOT/scripts/bench_torch_gpu.py" --csv "$LOGS"/time-*.log >"$OUT/.timings.csv.tmp" 2>/dev/null; then
			put timings.csv
		else
			{
				echo "json"
				grep -h 'GAUALPHA_TIMING' "$LOGS"/time-*.log | sed 's/^.*GAUALPHA_TIMING //; s/"/""/g; s/.*/"&"/'
			} >"$OUT/.timings.csv.tmp" && put timings.csv
		fi
	fi
	pack_logs
}

# finish NAME RC: a step's result from its exit status and its log.
finish() {
	local s=$1 rc=$2 log=$LOGS/$1.log res
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
		res="NOT RUN (compute-sanitizer: Device not supported on this machine)"
	elif [[ $kind == san ]] && ((rc != 0)) && grep -Eq 'Unrecognized option|unrecognised option|Invalid option' "$log"; then
		res="FAILED (compute-sanitizer refused an option; see the log)"
	elif ((DRY == 0)) && [[ $kind != info ]] && grep -q 'no GPU to test on' "$log"; then
		res="FAILED (skipped: no GPU found; see the log)"
	fi
	if ((DRY)); then
		if [[ $res == ok ]]; then
			res="NOT RUN (dry run: $(tail -1 "$log" | cut -c1-150))"
		else
			res="FAILED (dry run: $(tail -1 "$log" | cut -c1-150))"
		fi
	fi
	RES[$s]=$res
	grep -E -- '^(--- FAIL|FAIL|panic:|========= (Invalid|Error|Program hit|ERROR SUMMARY: [1-9]))' "$log" 2>/dev/null | head -20
	echo "   $s: $res (${SEC[$s]} s)"
	unset "PID[$s]"
	publish
}

not_run() {
	RES[$1]="NOT RUN ($2)"
	SEC[$1]=0
	echo "== $1: NOT RUN ($2)"
}

# skip_reason NAME: why NAME cannot run ("" if it can).
skip_reason() {
	local s=$1
	if [[ -z ${SELECTED[$s]} ]]; then
		echo "not selected (--only)"
	elif ((DRY)); then
		return
	elif [[ -n $NO_GPU ]]; then
		echo "no GPU: the preflight opened no device"
	elif [[ -n ${NEEDS_BLAS[$s]:-} && -z $CUBLAS ]]; then
		echo "no cuBLAS: none found or loaded (set GAUALPHA_CUBLAS=/path/to/libcublas.so.N)"
	fi
}

# step NAME CMD...: starts CMD in the background under timeout with the
# smaller of the step's planned limit and the time left, unless it cannot
# run here or under 10 s are left.
step() {
	local s=$1 lim why
	shift
	why=$(skip_reason "$s")
	if [[ -n $why ]]; then
		not_run "$s" "$why"
		return 1
	fi
	lim=$(($(left) - RESERVE))
	((lim > PLAN[$s])) && lim=${PLAN[$s]}
	if ((lim < 10)); then
		not_run "$s" "out of time: $(left) s of the budget left"
		return 1
	fi
	GIVEN[$s]=$lim
	START[$s]=$SECONDS
	RES[$s]=running
	echo "== $s (at most ${lim} s)"
	if ((DRY)); then
		timeout --kill-after=5 "$lim" bash -c 'dry "$@"' dry "$@" >"$LOGS/$s.log" 2>&1 &
	else
		timeout --kill-after=5 "$lim" "$@" >"$LOGS/$s.log" 2>&1 &
	fi
	PID[$s]=$!
	return 0
}

# await NAME...: waits for the started steps among NAME..., recording each
# as it ends and publishing every 15 s.
await() {
	local s rc pending=1 last=$SECONDS
	publish
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
		if ((SECONDS - last >= 15)); then
			publish
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
	for s in "${!PID[@]}"; do kill -TERM "${PID[$s]}" 2>/dev/null; done
	[[ -n $CLOCKS_PID ]] && kill "$CLOCKS_PID" 2>/dev/null
	[[ -n $PYPROBE ]] && kill "$PYPROBE" 2>/dev/null
	publish final
	rm -rf "$WORK"
}
trap on_exit EXIT
trap 'echo "gpu-run: stopped by a signal" >&2; exit 1' INT TERM

# dry CMD...: the dry run's stand-in for a step: the binary must start, a
# test binary must list tests for its -test.run pattern's first part.
# shellcheck disable=SC2317 # run through bash -c
dry() {
	local bin=$1 pat="" a prev=""
	echo "dry run: $*"
	shift
	if [[ $(basename "$bin") == compute-sanitizer ]]; then
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
		"$bin" -test.list "${pat:-.}" >"$WORK/list.$$" 2>&1 || {
			cat "$WORK/list.$$"
			echo "$(basename "$bin") did not start"
			return 1
		}
		if [[ ! -s $WORK/list.$$ ]]; then
			echo "$(basename "$bin") lists no test for -test.run '$pat'"
			return 1
		fi
		sed 's/^/  test: /' "$WORK/list.$$"
		echo "$(basename "$bin") starts and lists $(wc -l <"$WORK/list.$$") tests for '${pat:-.}'"
		rm -f "$WORK/list.$$"
		;;
	bash)
		for a in train eval; do
			if ! "$BIN/$a" -h >"$WORK/help.$$" 2>&1 && ! grep -q -- '-device' "$WORK/help.$$"; then
				cat "$WORK/help.$$"
				echo "cmd/$a did not start"
				return 1
			fi
		done
		rm -f "$WORK/help.$$"
		echo "cmd/train and cmd/eval start"
		;;
	*python*)
		"$bin" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$ROOT/scripts/bench_torch_gpu.py" || return 1
		echo "bench_torch_gpu.py parses"
		;;
	*)
		[[ -x $bin ]] || return 1
		echo "$bin is there"
		;;
	esac
	sleep "${GPU_RUN_DRY_SLEEP:-1}"
}
export -f dry
export BIN WORK ROOT

echo "gpu-run: results in $OUT, work in $WORK (budget ${BUDGET} s)$( ((DRY)) && echo '; dry run')"
sed 's/^/  /' "$WORK/BUILD_INFO" | grep -v sha256
publish

# ---- preflight -----------------------------------------------------------------
# The Python probe (importing torch takes seconds) runs meanwhile; each
# candidate's answer goes to a file.
probe_python() {
	local p
	for p in ${PYTHON:-} python3 /opt/*/.venv/bin/python3 /usr/bin/python3 /opt/conda/bin/python; do
		command -v "$p" >/dev/null 2>&1 || continue
		if timeout 40 "$p" -c 'import torch; print(torch.__version__, torch.cuda.is_available())' >>"$LOGS/python-probe.txt" 2>&1; then
			command -v "$p"
			return 0
		fi
		echo "$p: no usable torch" >>"$LOGS/python-probe.txt"
	done
}
probe_python >"$WORK/python.txt" 2>/dev/null &
PYPROBE=$!

# find_sanitizer: compute-sanitizer on PATH, in the toolkits, or in the
# Python environments' NVIDIA wheels.
find_sanitizer() {
	local f pre
	pre=$(dirname "$(dirname "$(command -v python3 2>/dev/null || echo /x/x)")")
	command -v compute-sanitizer 2>/dev/null && return
	for f in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer \
		/usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer \
		"$pre"/lib/python3*/site-packages/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer \
		/opt/*/.venv/lib/python3*/site-packages/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer \
		/usr/local/lib/python3*/dist-packages/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer; do
		[[ -f $f && -x $f ]] && echo "$f" && return
	done
}

START[preflight]=$SECONDS
GIVEN[preflight]=${PLAN[preflight]}
RES[preflight]=running
echo "== preflight"
PRE=$LOGS/preflight.log
: >"$PRE"
if command -v nvidia-smi >/dev/null; then
	timeout 10 nvidia-smi >"$LOGS/nvidia-smi.txt" 2>&1
	GPU_NAME=$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
	GPU_NAME=${GPU_NAME:-unknown (nvidia-smi answered nothing)}
	CUDA_VER=$(grep -o 'CUDA Version: *[0-9.]*' "$LOGS/nvidia-smi.txt" | awk '{print $NF}' | head -1)
	CUDA_VER=${CUDA_VER:-unknown}
	echo "nvidia-smi: $GPU_NAME; driver CUDA $CUDA_VER" >>"$PRE"
else
	echo "nvidia-smi: not found" >>"$PRE"
	GPU_NAME="unknown (no nvidia-smi)"
fi
SANITIZER=$(find_sanitizer)

# run_preflight: gpu.TestPreflight (package cudalib's search, the loads,
# the kernels), its report into preflight.md; sets CUBLAS, CUBLAS_VER and
# NO_GPU from its summary line.
NO_GPU=""
run_preflight() {
	local lim rc summary
	lim=$(($(left) - RESERVE))
	((lim > 25)) && lim=25
	((lim < 5)) && lim=5
	GAUALPHA_PREFLIGHT_OUT=$LOGS/preflight.md timeout --kill-after=5 "$lim" \
		"$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestPreflight$' >>"$PRE" 2>&1
	rc=$?
	summary=$(grep '^GAUALPHA_PREFLIGHT ' "$PRE" | tail -1 | sed 's/^GAUALPHA_PREFLIGHT //')
	field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$summary"; }
	CUBLAS=$(field cublas)
	CUBLAS_VER=$(field cublas_version)
	if grep -q 'no GPU to test on' "$PRE"; then
		NO_GPU=$(grep -m1 -o 'no GPU to test on: .*' "$PRE" | cut -c1-200)
		RES[preflight]="FAILED ($NO_GPU)"
	elif ((rc == 124 || rc == 137)); then
		RES[preflight]="FAILED (timed out after $lim s; see logs/preflight.log)"
	elif ((rc != 0)); then
		RES[preflight]="FAILED (exit $rc; see preflight.md and logs/preflight.log)"
	else
		RES[preflight]="ok ($(field device), driver CUDA $(field driver), $(field kernels) kernels)"
	fi
}
run_preflight
if [[ -z $CUBLAS && -z $NO_GPU ]] || [[ -z $SANITIZER ]]; then
	# One bounded search of / for what package gpu and the known places
	# lack, written to a file (a timeout keeps what was found so far).
	echo "searching / for libcublas.so.1[1-3] and compute-sanitizer (at most 15 s) -> logs/find-libs.txt" >>"$PRE"
	timeout 15 find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
		\( -name 'libcublas.so.1[1-3]' -o -name compute-sanitizer \) -print >"$LOGS/find-libs.txt" 2>/dev/null
	if [[ -z $CUBLAS && -z $NO_GPU ]]; then
		for v in 13 12 11; do
			f=$(grep -m1 "/libcublas\.so\.$v\$" "$LOGS/find-libs.txt")
			if [[ -n $f ]]; then
				export GAUALPHA_CUBLAS=$f
				NOTES+=("package gpu found no cuBLAS; the search of / found $f: the steps use it (GAUALPHA_CUBLAS)")
				echo "== preflight again with GAUALPHA_CUBLAS=$f" >>"$PRE"
				run_preflight
				break
			fi
		done
	fi
	if [[ -z $SANITIZER ]]; then
		while IFS= read -r f; do [[ -f $f && -x $f ]] && SANITIZER=$f && break; done < <(grep '/compute-sanitizer$' "$LOGS/find-libs.txt")
	fi
fi
# Every later process loads the cuBLAS the preflight loaded.
[[ -n $CUBLAS ]] && export GAUALPHA_CUBLAS=$CUBLAS
[[ -z $CUBLAS_VER && -n $CUBLAS ]] && CUBLAS_VER=unknown
{
	echo "cuBLAS loaded: ${CUBLAS:-none}${CUBLAS_VER:+ ($CUBLAS_VER)}"
	echo "compute-sanitizer: ${SANITIZER:-none}"
} >>"$PRE"
if ((DRY)); then
	RES[preflight]="NOT RUN (dry run; the preflight ran: ${RES[preflight]})"
fi
SEC[preflight]=$((SECONDS - START[preflight]))
echo "   preflight: ${RES[preflight]} (${SEC[preflight]} s)"
echo "   cuBLAS: ${CUBLAS:-none}${CUBLAS_VER:+ ($CUBLAS_VER)}; compute-sanitizer: ${SANITIZER:-none}"
publish

# ---- device against CPU, concurrently ---------------------------------------------
unset GAUALPHA_GPU_TIMING
KSKIP='^(TestPreflight|TestTime.*)$'
[[ -z $CUBLAS && $DRY == 0 ]] && KSKIP='^(TestPreflight|TestTime.*|TestSgemm|TestAttentionMat.*)$'
step kernels "$BIN/gpu.test" -test.v -test.count=1 -test.skip "$KSKIP"
step model "$BIN/graphexec.test" -test.v -test.count=1 -test.run '^TestModelMatchesCPU$'
step train-step "$BIN/train.test" -test.v -test.count=1 -test.run '^TestDeviceTrainingMatchesCPU$'
step evaluation "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestDeviceEvaluateMatchesCPU$'
await kernels model train-step evaluation

# ---- the key timings, one at a time -------------------------------------------------
wait "$PYPROBE" 2>/dev/null
PYPROBE=""
PY=$(head -1 "$WORK/python.txt" 2>/dev/null)
[[ -n $PY ]] && PYTABLE=$PY
if ((DRY == 0)) && [[ -z $NO_GPU ]] && command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv -l 1 \
		>"$LOGS/clocks.csv" 2>/dev/null &
	CLOCKS_PID=$!
fi
export GAUALPHA_GPU_TIMING=1
GAUALPHA_TIMING_B=1,8 GAUALPHA_TIMING_L=4096 step time-attention "$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestTimeAttention$' &&
	await time-attention
step time-train "$BIN/train.test" -test.v -test.count=1 -test.run '^TestTimeTrainStep$' && await time-train
# torch_step NAME ARGS...: bench_torch_gpu.py, told to start no case in its
# last 15 s.
torch_step() {
	local s=$1 tb
	shift
	if [[ -z $PY && $DRY == 0 ]]; then
		echo 'GAUALPHA_TIMING {"case": "torch", "error": "no Python with PyTorch found (set PYTHON=...)"}' >"$LOGS/$s.log"
		not_run "$s" "no Python with PyTorch; set PYTHON= (tried: $(tr '\n' ';' <"$LOGS/python-probe.txt" 2>/dev/null | cut -c1-200))"
		return 1
	fi
	tb=$(($(left) - RESERVE))
	((tb > PLAN[$s])) && tb=${PLAN[$s]}
	tb=$((tb - 15))
	((tb < 5)) && tb=5
	PYTHONUNBUFFERED=1 step "$s" "${PY:-python3}" "$ROOT/scripts/bench_torch_gpu.py" --time-budget "$tb" "$@"
}
torch_step time-torch --lengths 4096 --batch 1,8 --train-shape 8x512 && await time-torch
if [[ -n $CLOCKS_PID ]]; then
	kill "$CLOCKS_PID" 2>/dev/null
	wait "$CLOCKS_PID" 2>/dev/null
	CLOCKS_PID=""
fi
unset GAUALPHA_GPU_TIMING

# ---- the sanitizers ------------------------------------------------------------------
SANOPT=()
if [[ -n $SANITIZER || $DRY == 1 ]]; then
	SAN=${SANITIZER:-compute-sanitizer}
	# The filter option of this version: --kernel-name (2023 on), else
	# --kernel-regex, else --filter; each takes kns=SUBSTRING.
	if [[ -n $SANITIZER ]]; then
		timeout 10 "$SANITIZER" --help >"$LOGS/sanitizer-help.txt" 2>&1
	else
		printf '  --kernel-name arg\n  --report-api-errors arg\n' >"$LOGS/sanitizer-help.txt"
	fi
	for o in --kernel-name --kernel-regex --filter; do
		if grep -Eq -- "^ *${o}[[:space:]]" "$LOGS/sanitizer-help.txt"; then
			SANFILTER=$o
			break
		fi
	done
	SANOPT=(--error-exitcode 97 --print-limit 20)
	grep -q -- '--report-api-errors' "$LOGS/sanitizer-help.txt" && SANOPT+=(--report-api-errors no)
	[[ -n $SANFILTER ]] && SANOPT+=("$SANFILTER" kns=gau_)
	step memcheck-kernels "$SAN" --tool memcheck "${SANOPT[@]}" "$BIN/gpu.test" -test.count=1 \
		-test.run '^(TestAttention|TestAttentionMat|TestAttentionTensorCores|TestAttentionEmptyRows|TestSwishAndGrad|TestNormAndGrad|TestGate|TestAddDropoutUnpack|TestGatherScatter|TestCrossEntropy|TestAdamWAndClipping)$' &&
		await memcheck-kernels
	# The tensor-core forward shares tiles between warps that the emulator
	# runs in lock step: racecheck looks for what it cannot show.
	step racecheck-tc "$SAN" --tool racecheck "${SANOPT[@]}" "$BIN/gpu.test" -test.count=1 \
		-test.run '^TestAttentionTensorCores$/^(rope|streamingllm|B=2)$' && await racecheck-tc
	step memcheck-model "$SAN" --tool memcheck "${SANOPT[@]}" "$BIN/graphexec.test" -test.count=1 \
		-test.run '^TestModelMatchesCPU$/^(rope-softmax|rerope-softmaxplus)$' && await memcheck-model
else
	for s in memcheck-kernels racecheck-tc memcheck-model; do
		why=$(skip_reason "$s")
		not_run "$s" "${why:-no compute-sanitizer on this machine}"
	done
fi

# ---- the rest, concurrently, then the last timings -------------------------------------
step model-rest "$BIN/graphexec.test" -test.v -test.count=1 -test.skip '^TestModelMatchesCPU$'
step train-rest "$BIN/train.test" -test.v -test.count=1 -test.run '^TestDevice' -test.skip '^TestDeviceTrainingMatchesCPU$'
step eval-rest "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestDevice' -test.skip '^TestDeviceEvaluateMatchesCPU$'
step suite "$BIN/suite.test" -test.v -test.count=1 -test.run '^TestSuiteOnDevice$'
# cmd/train and cmd/eval -device cuda on a tiny model (a function run
# through bash -c, hence the exports).
export SMOKE=$WORK/smoke
# shellcheck disable=SC2317 # run through bash -c
smoke() {
	set -euo pipefail
	"$BIN/train" -device cuda -config "$WORK/smoke-config.json" -steps 40 -batch 16 -seq-len 32 -eval-every 20 \
		-eval-seqs 32 -eval-lengths 64,256 -eval-docs 3 -quiet -overwrite -out "$SMOKE/run"
	for dev in cuda cpu; do
		echo "cmd/eval -device $dev:"
		"$BIN/eval" -ckpt "$SMOKE/run/best" -device "$dev" -protocol paper -positions 16 -lengths 64,256 -docs 3 -quiet
	done
	echo "cmd/eval -device cuda -precision bf16:"
	"$BIN/eval" -ckpt "$SMOKE/run/best" -device cuda -precision bf16 -protocol paper -positions 16 -lengths 64,256 -docs 3 -quiet
	echo "cmd/train -device cuda -precision bf16:"
	"$BIN/train" -device cuda -precision bf16 -config "$WORK/smoke-config.json" -steps 20 -batch 16 -seq-len 32 \
		-eval-every 10 -eval-seqs 32 -no-eval -quiet -overwrite -out "$SMOKE/bf16"
}
export -f smoke
step commands bash -c smoke
await model-rest train-rest eval-rest suite commands
export GAUALPHA_GPU_TIMING=1
GAUALPHA_TIMING_B=1,8 GAUALPHA_TIMING_L=1024,16384 step time-attention-more "$BIN/gpu.test" -test.v -test.count=1 -test.run '^TestTimeAttention$' &&
	await time-attention-more
step time-sweep "$BIN/eval.test" -test.v -test.count=1 -test.run '^TestTimePaperSweep$' && await time-sweep
unset GAUALPHA_GPU_TIMING

# ---- the verdict -----------------------------------------------------------------------
trap - EXIT INT TERM
publish final
rm -rf "$WORK"
echo
cat "$OUT/summary.md"
echo
echo "gpu-run: $OUT holds: $(find "$OUT" -mindepth 1 -maxdepth 1 -printf '%f ')"
case $(verdict) in
PASS*) exit 0 ;;
FAIL) exit 1 ;;
*) exit 3 ;;
esac

#!/usr/bin/env bash
# Benchmark (not a test; make bench-mpi): data-parallel training on one
# machine. The default model (batch 32 at n0 = 64) trained STEPS steps by
#
#   A  one process of 2 threads (GOMAXPROCS=2), and
#   B  two processes of 1 thread each (mpirun -np 2 -x GOMAXPROCS=1),
#
# alternately, ROUNDS times each, with one short validation at the end and
# no final table. From each run's metrics.jsonl, over the steps after the
# first WARM: tokens/s (B·L per step over the elapsed time) and, for B,
# rank 0's time per step in the gradients' sum over the processes (waiting
# for the slower process included). Then MPI's all-reduce alone at the
# default model's gradient size (collective/mpi's benchmark). It prints a
# markdown table with the machine, the date and the load average around
# each run: other work on the cores shows in the numbers.
#
# Usage: scripts/bench-mpi.sh   (STEPS, ROUNDS, WARM in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-300}
ROUNDS=${ROUNDS:-2}
WARM=${WARM:-20}
if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi-c 2>/dev/null; then
	echo "bench-mpi: needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)" >&2
	exit 1
fi
MPIRUN=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
go build -tags mpi -o "$WORK/bin/" ./cmd/train
go test -c -tags mpi -o "$WORK/mpi.test" ./collective/mpi
TRAIN=(-steps "$STEPS" -batch 32 -seq-len 64 -eval-every "$STEPS" -eval-seqs 32 -log-every 1 -no-eval -quiet)

load() { cut -d' ' -f1 /proc/loadavg; }
# measure NAME OUT: tokens/s and comm ms/step after the warm-up steps.
measure() {
	python3 - "$2/metrics.jsonl" "$WARM" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
steps = {m["step"]: m for m in lines if "loss" in m}
warm, last = int(sys.argv[2]), max(steps)
a, b = steps[warm], steps[last]
tok = (last - warm) * 32 * 64 / (b["elapsed_seconds"] - a["elapsed_seconds"])
comm = 1e3 * (b.get("comm_seconds", 0) - a.get("comm_seconds", 0)) / (last - warm)
step = 1e3 * (b["elapsed_seconds"] - a["elapsed_seconds"]) / (last - warm)
print(f"{tok:.0f} {comm:.2f} {step:.1f}")
EOF
}

echo "| run | configuration | load before | tokens/s | ms per step | of which in the sum over the processes (ms) | load after |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -a TA TB
for r in $(seq 1 "$ROUNDS"); do
	l0=$(load)
	GOMAXPROCS=2 "$WORK/bin/train" "${TRAIN[@]}" -out "$WORK/a$r" 2>"$WORK/a$r.log"
	read -r tok comm step < <(measure A "$WORK/a$r")
	TA+=("$tok")
	echo "| $r | A: 1 process × 2 threads | $l0 | $tok | $step | — | $(load) |"
	l0=$(load)
	"${MPIRUN[@]}" -np 2 -x GOMAXPROCS=1 "$WORK/bin/train" "${TRAIN[@]}" -out "$WORK/b$r" 2>"$WORK/b$r.log"
	read -r tok comm step < <(measure B "$WORK/b$r")
	TB+=("$tok")
	echo "| $r | B: 2 processes × 1 thread | $l0 | $tok | $step | $comm | $(load) |"
done
python3 - "${TA[*]}" "${TB[*]}" <<'EOF'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"\nMedian tokens/s: A {ma:.0f}, B {mb:.0f}; B/A = {mb/ma:.3f} (target: at least 0.9).")
EOF
echo
echo "MPI's all-reduce alone (2 processes, shared memory), collective/mpi's BenchmarkAllReduceSum32:"
echo
"${MPIRUN[@]}" -np 2 "$WORK/mpi.test" -test.run '^$' -test.bench AllReduce -test.benchtime 30x 2>/dev/null |
	awk '/^Benchmark/ && !seen[$1]++ {printf "- %s: %.2f ms per sum, %s MB/s\n", $1, $3/1e6, $5}'
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $(mpirun --version | head -1); $(date -u +%Y-%m-%dT%H:%MZ); steps $WARM-$STEPS of each run."

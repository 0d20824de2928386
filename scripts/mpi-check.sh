#!/usr/bin/env bash
# The MPI check (.ci/run runs it; about 2 minutes on a 2-core machine):
#
#  1. Open MPI from Debian (openmpi-bin, libopenmpi-dev), installed if missing;
#  2. go vet and build with -tags mpi; collective/mpi's tests on 3 processes;
#  3. the default model trained for 200 steps of 32 sequences by one process
#     and by two (mpirun -np 2, one thread each; the same global batch):
#     the first 10 steps' losses within LOSS_TOL (relative; sums in another
#     order), the final validation loss within VAL_TOL (relative), and the
#     weights identical on both processes at every validation (the trainer
#     compares their SHA-256 and says so on rank 0's log);
#  4. the trained model evaluated by one process and by two: the same JSON
#     report, the timings aside;
#  5. a binary built without MPI and started as two processes refuses to
#     run, naming the build tag.
#
# Usage: scripts/mpi-check.sh [WORKDIR]   (default: a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
LOSS_TOL=1e-5
VAL_TOL=1e-4
STEPS=200

die() {
	echo "mpi-check: $*" >&2
	exit 1
}

if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi-c 2>/dev/null; then
	echo "mpi-check: installing Open MPI from Debian (openmpi-bin, libopenmpi-dev)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null; } ||
		die "could not install openmpi-bin and libopenmpi-dev with apt-get"
fi
mpirun --version | head -1
# Root needs --allow-run-as-root; two ranks on two cores need --oversubscribe
# (Open MPI counts slots by cores and may see fewer).
MPIRUN=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)

WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"
[[ -z ${1:-} ]] && trap 'rm -rf "$WORK"' EXIT

echo "--- go vet and build with -tags mpi"
go vet -tags mpi ./...
go build -tags mpi -o "$WORK/bin/" ./cmd/train ./cmd/eval
go test -c -tags mpi -o "$WORK/mpi.test" ./collective/mpi
echo "--- collective/mpi on 3 processes"
"${MPIRUN[@]}" -np 3 "$WORK/mpi.test" -test.count=1 >"$WORK/mpi-test.log" 2>&1 ||
	{ cat "$WORK/mpi-test.log"; die "collective/mpi's tests failed on 3 processes"; }
[[ $(grep -c '^PASS$' "$WORK/mpi-test.log") == 3 ]] || { cat "$WORK/mpi-test.log"; die "not every process passed"; }

echo "--- training: one process of 2 threads against two processes of 1 thread, $STEPS steps of the same batches"
TRAIN=(-steps "$STEPS" -eval-every 50 -log-every 1 -eval-lengths "128,256" -eval-docs 4)
start=$SECONDS
"$WORK/bin/train" "${TRAIN[@]}" -out "$WORK/one" >"$WORK/one.out" 2>"$WORK/one.err" ||
	{ tail "$WORK/one.err"; die "the one-process training failed"; }
one_s=$((SECONDS - start))
start=$SECONDS
"${MPIRUN[@]}" -np 2 -x GOMAXPROCS=1 "$WORK/bin/train" "${TRAIN[@]}" -out "$WORK/two" >"$WORK/two.out" 2>"$WORK/two.err" ||
	{ tail "$WORK/two.err"; die "the two-process training failed"; }
two_s=$((SECONDS - start))
echo "    one process: ${one_s} s; two processes: ${two_s} s (wall, with the final evaluation; load: $(cut -d' ' -f1-3 /proc/loadavg))"
grep -q 'on 2 processes (cpu each, 16 sequences of every batch)' "$WORK/two.err" || { cat "$WORK/two.err"; die "rank 0 does not say it trains on 2 processes"; }
n=$(grep -c 'weights identical on the 2 processes (SHA-256 ' "$WORK/two.err" || true)
[[ $n == 4 ]] || { cat "$WORK/two.err"; die "$n validations said the weights were identical on both processes, want 4"; }
python3 - "$WORK/one/metrics.jsonl" "$WORK/two/metrics.jsonl" "$LOSS_TOL" "$VAL_TOL" <<'EOF' || die "the two-process run differs from the one-process run"
import json, sys
def read(path):
    loss, val = {}, []
    for line in open(path):
        m = json.loads(line)
        if "loss" in m:
            loss[m["step"]] = m["loss"]
        elif "val_loss" in m:
            val.append(m["val_loss"])
    return loss, val
(l1, v1), (l2, v2) = read(sys.argv[1]), read(sys.argv[2])
loss_tol, val_tol = float(sys.argv[3]), float(sys.argv[4])
worst = max(abs(l2[s] - l1[s]) / l1[s] for s in range(1, 11))
print(f"    steps 1-10: largest relative difference of the losses {worst:.2e} (tolerance {loss_tol:g})")
print(f"    final validation loss: {v1[-1]:.7f} on one process, {v2[-1]:.7f} on two (relative difference {abs(v2[-1]-v1[-1])/v1[-1]:.2e}, margin {val_tol:g})")
ok = worst <= loss_tol and len(v1) == len(v2) == 4 and abs(v2[-1] - v1[-1]) <= val_tol * v1[-1]
sys.exit(0 if ok else 1)
EOF
cmp -s <(grep '^|' "$WORK/one.out") <(grep '^|' "$WORK/two.out") ||
	echo "    (the final tables differ in their last digits: the weights differ by rounding)"

echo "--- evaluation: one process against two"
EVAL=(-ckpt "$WORK/one/best" -lengths "128,512" -docs 4 -json -quiet)
"$WORK/bin/eval" "${EVAL[@]}" >"$WORK/eval-one.json"
"${MPIRUN[@]}" -np 2 "$WORK/bin/eval" "${EVAL[@]}" >"$WORK/eval-two.json"
strip() { sed -E 's/"seconds": [0-9.e+-]+/"seconds": 0/' "$1"; }
cmp -s <(strip "$WORK/eval-one.json") <(strip "$WORK/eval-two.json") ||
	{ diff <(strip "$WORK/eval-one.json") <(strip "$WORK/eval-two.json") | head -20; die "the two-process evaluation differs from the one-process evaluation"; }
echo "    the same report ($(grep -c '"variant"' "$WORK/eval-one.json") results)"

echo "--- a binary without MPI started as two processes"
go build -o "$WORK/plain/" ./cmd/train
if "${MPIRUN[@]}" -np 2 "$WORK/plain/train" -steps 1 -out "$WORK/plain-run" >"$WORK/plain.log" 2>&1; then
	die "a binary built without MPI trained as two processes"
fi
# shellcheck disable=SC2016 # the backquotes are the message's
grep -q 'started 2 processes (OMPI_COMM_WORLD_SIZE=2), but this binary was built without MPI: build it with `go build -tags mpi`' "$WORK/plain.log" ||
	{ cat "$WORK/plain.log"; die "the refusal does not name the build tag"; }
echo "mpi-check: all checks passed"

#!/bin/sh
# Measures the unit costs of the CPU profile of `make reproduce` (rules
# version 3) on this machine with small runs, and predicts the wall time of
# each part and of the whole study from them (docs/analysis.md, "Cost").
#
#   scripts/study-cost.sh            # about 5 minutes on 2 cores
#
# The prediction counts the parts of study.Profile "cpu": 7 sweep models of
# 1500 steps; 9 base models of 4000 steps; 5 ALiBi fine-tunes of the slope
# grid and 27 fine-tunes (PI at 4·n0, PoSE, ALiBi from 3 bases × 3 seeds) of
# 1000 steps; the development evaluation (141 configurations × 10 documents
# at 64x, one pass); the test evaluation and its passkey probe (CONFIGS
# configurations × 3 seeds × 24 documents); the matched-loss evaluation
# (MATCHED configurations × 3 seeds × 24 documents); the calibration; the
# entropy analyses (3 seeds) and the other analyses. Run it on the machine
# and at the load of the real run: the load average is printed with it.
set -eu
CONFIGS=${CONFIGS:-42}
MATCHED=${MATCHED:-8}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bin="$dir/bin"
go build -trimpath -buildvcs=false -o "$bin/" ./cmd/train ./cmd/suite ./cmd/analyze

now() { date +%s.%N; }
# secs CMD...: the wall time of CMD in seconds (its output discarded).
secs() {
	t0=$(now)
	"$@" >"$dir/last.log" 2>&1 || { cat "$dir/last.log" >&2; exit 1; }
	t1=$(now)
	echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

common="-corpus embedded -batch 32 -quiet -overwrite -passkey-every 16"
# elapsed DIR: the training time a run recorded (its steps and validations,
# not the process's start-up).
elapsed() { sed -n 's/.*"elapsed_seconds": *\([0-9.e+-]*\).*/\1/p' "$1/last/trainer_state.json" | head -1; }
# A base model: 400 steps (the first 40 all passkey samples), a validation
# every 100 steps as in the real run (every 400 of 4000), timed by the
# trainer; the process's start-up from its wall time.
w=$(secs "$bin/train" -out "$dir/b" -steps 400 -eval-every 100 -passkey-first 40 -no-eval $common -keep-validations)
base400=$(elapsed "$dir/b")
start=$(calc "$w - $base400")
secs "$bin/train" -out "$dir/c" -steps 400 -eval-every 100 -passkey-first 40 -no-eval $common -cosscale 32 >/dev/null
cos400=$(elapsed "$dir/c")
echo "train: 400 steps and 4 validations: $base400 s (CosScale 32: $cos400 s); start-up $start s"

# Fine-tunes: PI at 4·n0, PoSE and ALiBi, 200 steps each with 4
# validations (the real ones: 1000 steps, 4 validations), timed by the
# trainer.
suite="$bin/suite -corpus embedded -batch 32 -seed 42 -quiet -passkey-every 16 -docs 24"
f1=$(secs $suite -base "$dir/b/best" -out "$dir/ft" -methods pi-ft,pose,alibi -finetune-only -finetune-steps 200)
ftpi=$(elapsed "$dir/ft/cos0/ft-pi")
ftpose=$(elapsed "$dir/ft/cos0/ft-pose")
ftalibi=$(elapsed "$dir/ft/cos0/ft-alibi")
ftstart=$(calc "($f1 - $ftpi - $ftpose - $ftalibi) / 3")
echo "fine-tunes, 200 steps: PI $ftpi s, PoSE $ftpose s, ALiBi $ftalibi s; start-up $ftstart s per fine-tune"

# Evaluation units on the real documents.
e1=$(secs $suite -base "$dir/b/best" -out "$dir/e1" -configs cos0/rope/softmax -lengths 128 -offsets 2)
e2=$(secs $suite -base "$dir/b/best" -out "$dir/e2" -configs cos0/rope/softmax,cos0/rope/infoscale -lengths 128,512,4096 -offsets 2)
# e1 is the suite's start-up and one configuration at 128 (a small part):
# the differences below are the units, within that part.
test=$(calc "($e2 - $e1) / 48")
p1=$(secs $suite -base "$dir/b/best" -out "$dir/p1" -configs cos0/rope/softmax -lengths 128 -offsets 2 -passkey-lengths 64,128,512,4096 -passkey-near 1 -passkey-far 1)
pk=$(calc "($p1 - $e1) / 24")
v1=$(secs $suite -base "$dir/b/best" -out "$dir/v1" -docset dev -configs cos0/rope/softmax,cos0/rope/infoscale -lengths 4096 -offsets 1)
dev=$(calc "($v1 - $e1) / 20")
c1=$(secs $suite -base "$dir/b/best" -out "$dir/c1" -docset dev -doc-length 4096 -methods rope -norm softmax -lengths 128,256,512 -protocol paper -positions 128)
calp=$(calc "($c1 - $e1) / 10")
echo "evaluation per configuration and document: test (128, 512, 4096; 2 passes) $test s; passkey probe $pk s; development (4096, 1 pass) $dev s; paper protocol at 128-512 (128 positions) $calp s"
ent=$(secs "$bin/analyze" entropy -ckpt "$dir/b/best" -norm softmax,infoscale,softmax_plus_n0,softmax_plus,yarn_temp,llama4_temp -docs 10 -corpus embedded -out "$dir/an" -quiet)
echo "entropy analysis (6 temperatures, 10 documents, 64..4096): $ent s"

echo
echo "predicted wall time of the CPU profile (minutes):"
# A sweep model: 1500 steps, 10 validations; a base: 4000 steps, 10
# validations (a validation is a small part of 100 steps: counted as one
# in 100 steps here, a slight overestimate). A fine-tune: 1000 steps, five
# times the 200 measured (their 4 validations counted five times: a slight
# overestimate too).
sweep=$(calc "7 * (1500 / 400 * $cos400 + $start) / 60")
bases=$(calc "9 * (4000 / 400 * $base400 + $start) / 60")
ft1000="(5 * ($ftpi + $ftpose + $ftalibi) + 3 * $ftstart)"
grid=$(calc "5 * (5 * $ftalibi + $ftstart) / 60")
fts=$(calc "9 * $ft1000 / 60")
devp=$(calc "(141 * 10 * $dev + $e1) / 60")
testp=$(calc "3 * ($CONFIGS * 24 * ($test + $pk) + $e1) / 60")
matched=$(calc "3 * ($MATCHED * 24 * $test + $e1) / 60")
calib=$(calc "(20 * 10 * $calp + 20 * 10 * $test / 2) / 60")
ana=$(calc "(3 * $ent + 60) / 60")
echo "  sweep (7 × 1500 steps)                       $sweep"
echo "  base models (9 × 4000 steps)                 $bases"
echo "  ALiBi slope grid (5 fine-tunes)              $grid"
echo "  fine-tunes (27 × 1000 steps)                 $fts"
echo "  development evaluation (141 × 10 documents)  $devp"
echo "  test evaluation and passkey ($CONFIGS × 3 × 24)     $testp"
echo "  matched loss ($MATCHED × 3 × 24)                    $matched"
echo "  calibration                                  $calib"
echo "  analyses                                     $ana"
echo "  total                                        $(calc "$sweep + $bases + $grid + $fts + $devp + $testp + $matched + $calib + $ana")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

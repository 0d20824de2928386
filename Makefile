# Common tasks. Every target runs from a fresh clone: Go (1.26) is the only
# requirement for build, test, train and eval; the targets that regenerate
# reference data install what they need (Debian packages) themselves.

GO ?= go
PYTHON_TORCH ?= /usr/bin/python3

.PHONY: all build test test-short vet fmt train eval suite reproduce tools bench bench-mpi mpi-check corpus corpus-check vectors pt-export clean

all: build test

build:
	$(GO) build ./...

# The README's test command; .ci/run runs exactly this.
test:
	$(GO) test ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')

# The main job: train the default model on the embedded corpus, then print
# the softmax vs InfoScale extrapolation table.
train:
	$(GO) run ./cmd/train

# Evaluate a checkpoint: make eval CKPT=runs/<run>/best
eval:
	$(GO) run ./cmd/eval -ckpt $(CKPT)

# The baseline suite on the CPU: train the base models at n0 = 64 with RoPE
# and softmax (CosScale off and CosScale $(SUITE_COS)) unless they exist,
# fine-tune PI, PoSE and ALiBi for 1000 steps from each, and evaluate every
# method × normalisation at 2x..64x into runs/suite/suite.md.
SUITE_COS ?= 16
SUITE_DIR ?= runs/suite
suite:
	@test -f $(SUITE_DIR)/base-cos0/best/model.safetensors || $(GO) run ./cmd/train -out $(SUITE_DIR)/base-cos0 -overwrite -no-eval
	@test -f $(SUITE_DIR)/base-cos$(SUITE_COS)/best/model.safetensors || $(GO) run ./cmd/train -cosscale $(SUITE_COS) -out $(SUITE_DIR)/base-cos$(SUITE_COS) -overwrite -no-eval
	$(GO) run ./cmd/suite -base $(SUITE_DIR)/base-cos0/best,$(SUITE_DIR)/base-cos$(SUITE_COS)/best -out $(SUITE_DIR)

# The paper's study with one command: models, CosScale sweep, baseline suite,
# analyses and results/REPORT.md. PROFILE=cpu (default: small models, fast
# protocol, three seeds, rules version 3; docs/analysis.md, "Cost", gives its
# predicted time) or PROFILE=gpu (paper sizes and protocol; needs a -tags gpu
# build and an NVIDIA GPU; PRECISION=bf16 for bfloat16 inputs to the matrix
# products). The tools are built without VCS stamps or paths, so that their
# binaries, which fingerprint the parts' outputs, change only with the code.
PROFILE ?= cpu
PRECISION ?= f32
TOOL_TAGS := $(if $(filter gpu,$(PROFILE)),-tags gpu,)
tools:
	$(GO) build $(TOOL_TAGS) -trimpath -buildvcs=false -o bin/ ./cmd/train ./cmd/eval ./cmd/suite ./cmd/analyze ./cmd/reproduce

reproduce: tools
	bin/reproduce -profile $(PROFILE) -precision $(PRECISION) -out results

# CPU speed and memory against PyTorch eager on the same cores (installs
# Debian's python3-torch and OpenBLAS if missing); the table goes to stdout
# and replaces the one in docs/benchmarks.md.
bench: torch
	$(GO) run ./cmd/bench -out docs/benchmarks.md

# Data-parallel training on this machine: one process of 2 threads against
# two MPI processes of 1 thread (tokens/s, time in the gradients' sum),
# and MPI's all-reduce alone; needs Open MPI (make mpi-check installs it).
bench-mpi:
	scripts/bench-mpi.sh

# The MPI check of .ci/run: Open MPI from Debian, the -tags mpi build, one
# process against two in training and evaluation.
mpi-check:
	scripts/mpi-check.sh

# Regenerate the embedded corpus from Debian's manpages-zh (installs it).
corpus:
	scripts/mkcorpus.sh

corpus-check:
	scripts/mkcorpus.sh --check

# Regenerate the PyTorch reference vectors (needs Debian's python3-torch).
vectors: torch
	$(PYTHON_TORCH) scripts/torch_reference.py

# Regenerate the PyTorch-exported safetensors test files.
pt-export: torch
	$(PYTHON_TORCH) scripts/make_pt_safetensors.py

torch:
	@$(PYTHON_TORCH) -c 'import torch' 2>/dev/null || (apt-get update && apt-get install -y python3-torch libopenblas0-pthread)

clean:
	rm -rf bin

# The image users run: every command of the module (train, the entry point;
# eval, suite, reproduce, analyze, bench) built with -tags gpu, so that one
# image trains on an NVIDIA GPU with `docker run --gpus all` (the NVIDIA
# container toolkit brings the driver) and on the CPU without: the commands'
# default -device in such a build is auto, which says on stderr which it
# picked. README.md ("GPUs, containers, several machines") and docs/gpu.md ("Docker") show the commands;
# scripts/docker-check.sh builds the image and runs it on the CPU (CI does).
#
#   docker build -t gaualpha .
#   docker run --rm -u "$(id -u):$(id -g)" -v "$PWD/runs:/work/runs" gaualpha -steps 200
#   docker run --rm -u "$(id -u):$(id -g)" -v "$PWD/runs:/work/runs" --gpus all gaualpha
#   docker run --rm -u "$(id -u):$(id -g)" -v "$PWD/runs:/work/runs" --entrypoint eval gaualpha -ckpt runs/X/best
#
# CUBLAS chooses where the GPU's cuBLAS comes from (package gpu opens it at
# run time, libcublas.so.13, .12 or .11, whichever it finds first):
#   debian  (default) Debian 12 with Debian's non-free libcublas11 (CUDA
#           11.8's cuBLAS; every driver from 520 on runs it, CUDA 13's
#           included), from Debian's archive;
#   nvidia  NVIDIA's CUDA runtime image (libcublas.so.12; driver 525 or
#           later), from Docker Hub: --build-arg CUBLAS=nvidia.
# Base images are named by version; override them with --build-arg GO_IMAGE=...,
# DEBIAN_IMAGE=... or CUDA_IMAGE=... (a mirror, another version).
ARG CUBLAS=debian
ARG GO_IMAGE=docker.io/library/golang:1.26.8-bookworm
ARG DEBIAN_IMAGE=docker.io/library/debian:12.15-slim
ARG CUDA_IMAGE=docker.io/nvidia/cuda:12.8.1-runtime-ubuntu24.04

# Build stage. Package gpu needs one file of CUDA to compile, cuda.h (it
# links nothing from CUDA: the driver and cuBLAS are opened at run time), so
# only that header is taken from Debian's non-free nvidia-cuda-dev (CUDA 11.8).
FROM ${GO_IMAGE} AS build
RUN printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        >/etc/apt/sources.list.d/non-free.sources \
    && apt-get update -q \
    && cd /tmp \
    && apt-get download -q nvidia-cuda-dev \
    && dpkg-deb --fsys-tarfile nvidia-cuda-dev_*.deb | tar -x -C / ./usr/include/cuda.h \
    && rm -rf /tmp/*.deb /var/lib/apt/lists/* /etc/apt/sources.list.d/non-free.sources
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# The whole context: .dockerignore keeps out run folders, build outputs and
# the repository's history, so no package can be left out.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -tags gpu -trimpath -ldflags='-s -w' -o /out/ ./cmd/...

# Run stages: only the binaries and cuBLAS.
FROM ${DEBIAN_IMAGE} AS runtime-debian
RUN printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        >/etc/apt/sources.list.d/non-free.sources \
    && apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libcublas11 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE} AS runtime-nvidia

FROM runtime-${CUBLAS}
# A non-root user (uid 1000, the usual first user of a Linux host; Ubuntu's
# own "ubuntu" user, which has that uid, is removed) owning /work and the
# runs volume; `docker run -u UID:GID` runs as anyone else.
RUN if id ubuntu >/dev/null 2>&1; then userdel -r ubuntu; fi \
    && groupadd -g 1000 gau \
    && useradd -u 1000 -g gau -m -s /bin/sh gau \
    && mkdir -p /work/runs \
    && chown -R gau:gau /work
COPY --from=build /out/ /usr/local/bin/
USER gau
WORKDIR /work
# Runs (checkpoints, metrics, results) go to /work/runs: train's default -out
# is runs/<date-time>, relative to /work.
VOLUME /work/runs
# What the NVIDIA container toolkit mounts with --gpus: the CUDA driver.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
ENTRYPOINT ["train"]

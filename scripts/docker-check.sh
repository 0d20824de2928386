#!/usr/bin/env bash
# docker-check.sh: build the image of ./Dockerfile and run it as a user
# would, on the CPU (CI runs it; README.md, "GPUs, containers, several machines"; docs/gpu.md, "Docker").
#
#     scripts/docker-check.sh
#
# 1. The container engine: docker where its daemon answers, else podman
#    (installed from Debian, with runc, where neither works). With podman it
#    passes --runtime runc where runc is installed (crun, podman's default,
#    fails on hosts with hybrid cgroups) and --ulimit nofile=1024:1024
#    --ulimit nproc=1024:1024 (hosts that refuse the default limits).
#    ENGINE=docker or ENGINE=podman forces one.
# 2. The base images the Dockerfile names (GO_IMAGE, DEBIAN_IMAGE): those
#    already present are used; the others are pulled; where a pull fails
#    (no registry reachable), they are built here and tagged under those
#    names, which the script says: Debian from Debian's archive
#    (debootstrap --variant=minbase bookworm, then import), Go from the Go
#    module proxy (module golang.org/toolchain, the zip `go` itself
#    downloads, checked against its SHA-256) on that Debian with gcc.
# 3. The image (CUBLAS=debian: Debian's cuBLAS 11.8), timed, and its size.
# 4. As a user: every command on PATH, a non-root user; the main job
#    (train, the entry point, default -device auto: the CPU here, which it
#    must say) with a short -steps, a host folder mounted as the runs volume,
#    its checkpoint and results.md written there by the non-root user and
#    read back here; eval of that checkpoint from a second container (the
#    folder mounted read-only), its table train's; as root here, train
#    with -u 4242:4242 too (a host user the image does not know, as
#    README.md runs it: -u "$(id -u):$(id -g)"); a bad flag value (one
#    line on stderr, exit status 1) and an unknown flag (exit status 1,
#    the error the last line). The runs have no network.
#
# Needs root (or sudo) only to install podman or to build base images.
# Environment: ENGINE, IMAGE (default gaualpha:check), KEEP=1 keeps the
# temporary folder. The image stays (remove it with `ENGINE rmi IMAGE`);
# a second run reuses it and the base images, and only rebuilds what changed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-gaualpha:check}
# The Go toolchain of the local golang image: the module the Go command
# downloads for GOTOOLCHAIN, and the SHA-256 of its zip (the same file
# `go mod download golang.org/toolchain@VERSION` fetches and checks against
# sum.golang.org, h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=).
GO_TOOLCHAIN=v0.0.1-go1.26.8.linux-amd64
GO_TOOLCHAIN_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "docker-check: $*"; }
die() {
	echo "docker-check: $*" >&2
	exit 1
}

SUDO=
if [[ $(id -u) != 0 ]]; then
	SUDO=sudo
fi
as_root() {
	if [[ -n $SUDO ]] && ! command -v sudo >/dev/null 2>&1; then
		die "need root (or sudo) to $1"
	fi
	shift
	$SUDO "$@"
}
apt_install() {
	as_root "install $*" env DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends "$@"
}
apt_updated=
apt_update() {
	if [[ -z $apt_updated ]]; then
		as_root "update apt's lists" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
		apt_updated=1
	fi
}

# --- 1. The engine.
pick_engine() {
	if [[ -n ${ENGINE:-} ]]; then
		command -v "$ENGINE" >/dev/null || die "ENGINE=$ENGINE is not installed"
		return
	fi
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
		ENGINE=docker
		return
	fi
	if command -v podman >/dev/null && podman info >/dev/null 2>&1; then
		ENGINE=podman
		return
	fi
	say "no working docker or podman: installing podman and runc from Debian"
	command -v apt-get >/dev/null || die "no docker, no podman, and no apt-get to install podman"
	apt_update
	apt_install podman runc
	ENGINE=podman
}
pick_engine
E=("$ENGINE") # the engine with its global flags
LIMITS=()      # the flags of build and run
if [[ $ENGINE == podman ]]; then
	if command -v runc >/dev/null; then
		E+=(--runtime runc)
	fi
	LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi
say "engine: $("${E[@]}" --version) (${E[*]})"

# --- 2. The base images.
arg_default() { sed -n "s/^ARG $1=//p" "$ROOT/Dockerfile" | head -1; }
GO_IMAGE=$(arg_default GO_IMAGE)
DEBIAN_IMAGE=$(arg_default DEBIAN_IMAGE)
[[ -n $GO_IMAGE && -n $DEBIAN_IMAGE ]] || die "Dockerfile: no ARG GO_IMAGE=... or ARG DEBIAN_IMAGE=..."

TMP=$(mktemp -d "${TMPDIR:-/tmp}/docker-check.XXXXXX")
cleanup() {
	if [[ -n ${KEEP:-} ]]; then
		say "kept $TMP"
	else
		as_root "remove $TMP" rm -rf "$TMP" 2>/dev/null || rm -rf "$TMP" || true
	fi
}
trap cleanup EXIT

have_image() { "${E[@]}" image inspect "$1" >/dev/null 2>&1; }

# Debian bookworm from Debian's archive, as the official slim image has it:
# minbase; the archive, updates and security suites; no apt lists, no
# downloaded packages kept; no documentation, manual pages or translations
# (those of the bootstrap removed, later ones not installed).
build_debian() {
	local name=$1 root=$TMP/debian-rootfs
	command -v debootstrap >/dev/null || {
		apt_update
		apt_install debootstrap
	}
	say "building $name here from Debian's archive: debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)"
	as_root "run debootstrap" debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$TMP/debootstrap.log" 2>&1 ||
		die "debootstrap failed; the end of $TMP/debootstrap.log: $(tail -3 "$TMP/debootstrap.log")"
	as_root "configure $root" sh -c "
		rm -f '$root/etc/apt/sources.list'
		cat >'$root/etc/apt/sources.list.d/debian.sources' <<-EOF
			Types: deb
			URIs: $DEBIAN_MIRROR
			Suites: bookworm bookworm-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: ${DEBIAN_MIRROR%/debian}/debian-security
			Suites: bookworm-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		cat >'$root/etc/dpkg/dpkg.cfg.d/slim' <<-EOF
			path-exclude /usr/share/doc/*
			path-include /usr/share/doc/*/copyright
			path-exclude /usr/share/man/*
			path-exclude /usr/share/groff/*
			path-exclude /usr/share/info/*
			path-exclude /usr/share/locale/*
			path-exclude /usr/share/lintian/*
		EOF
		cat >'$root/etc/apt/apt.conf.d/clean' <<-EOF
			DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };
			Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";
		EOF
		find '$root/usr/share/doc' -mindepth 1 -not -name copyright -not -type d -delete
		rm -rf '$root'/usr/share/man/* '$root'/usr/share/info/* '$root'/usr/share/locale/* '$root'/usr/share/groff/* '$root'/usr/share/lintian/*
		rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/* '$root'/var/log/*.log
	"
	as_root "import $name" tar -C "$root" -c . | "${E[@]}" import --change 'CMD ["bash"]' - "$name" >/dev/null
	say "$name is Debian $(cat "$root/etc/debian_version") (built here, not pulled)"
	as_root "remove $root" rm -rf "$root"
}

# Go on that Debian, as the official golang image has it: gcc and libc6-dev
# for cgo, Go in /usr/local/go, GOPATH /go, GOTOOLCHAIN=local.
build_golang() {
	local name=$1 ctx=$TMP/golang
	local want=${name##*:}
	want=go${want%%-*}
	[[ $GO_TOOLCHAIN == *-$want.linux-amd64 ]] ||
		die "$name asks for $want, the toolchain here is $GO_TOOLCHAIN: update GO_TOOLCHAIN and its SHA-256 in this script"
	mkdir -p "$ctx"
	say "building $name here: Go $GO_TOOLCHAIN from the Go module proxy (golang.org/toolchain) on $DEBIAN_IMAGE"
	curl -fsSL --retry 3 -o "$ctx/go.zip" "$GOPROXY_URL/golang.org/toolchain/@v/$GO_TOOLCHAIN.zip" ||
		die "cannot download golang.org/toolchain@$GO_TOOLCHAIN from $GOPROXY_URL"
	echo "$GO_TOOLCHAIN_SHA256  $ctx/go.zip" | sha256sum -c --quiet - ||
		die "golang.org/toolchain@$GO_TOOLCHAIN: the zip's SHA-256 is not $GO_TOOLCHAIN_SHA256"
	# The host's own CA certificates (a TLS-inspecting proxy's, as here), so
	# that the Go module proxy can be reached from the build.
	local cas=() ca
	mkdir -p "$ctx/ca"
	for ca in /usr/local/share/ca-certificates/*.crt; do
		[[ -f $ca ]] || continue
		cp "$ca" "$ctx/ca/"
		cas+=("$(basename "$ca")")
	done
	if ((${#cas[@]})); then
		say "$name trusts this host's extra CA certificates: ${cas[*]} (/usr/local/share/ca-certificates)"
	fi
	cat >"$ctx/Dockerfile" <<-EOF
		FROM $DEBIAN_IMAGE
		RUN apt-get update -q \\
		    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates gcc libc6-dev unzip \\
		    && rm -rf /var/lib/apt/lists/*
		COPY ca/ /usr/local/share/ca-certificates/
		RUN update-ca-certificates
		COPY go.zip /tmp/go.zip
		RUN unzip -q /tmp/go.zip -d /tmp/go \\
		    && mv /tmp/go/golang.org/toolchain@$GO_TOOLCHAIN /usr/local/go \\
		    && chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* \\
		    && rm -rf /tmp/go /tmp/go.zip
		ENV GOLANG_VERSION=${want#go} GOTOOLCHAIN=local GOPATH=/go \\
		    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		WORKDIR /go
	EOF
	"${E[@]}" build "${LIMITS[@]}" -q -t "$name" "$ctx" >/dev/null || die "building $name failed"
	say "$name has $("${E[@]}" run --rm --network none "${LIMITS[@]}" "$name" go version) (built here, not pulled)"
}

base_image() {
	local name=$1 build=$2
	if have_image "$name"; then
		say "$name: present"
	elif "${E[@]}" pull -q "$name" >/dev/null 2>&1; then
		say "$name: pulled"
	else
		say "$name: cannot be pulled (no registry reachable)"
		"$build" "$name"
	fi
}
base_image "$DEBIAN_IMAGE" build_debian
base_image "$GO_IMAGE" build_golang

# --- 3. The image.
say "building $IMAGE (CUBLAS=debian) from $ROOT"
start=$SECONDS
"${E[@]}" build "${LIMITS[@]}" --build-arg CUBLAS=debian -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" ||
	die "building $IMAGE failed"
build_s=$((SECONDS - start))
size=$("${E[@]}" image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE in ${build_s} s; $((size / 1000000)) MB"

# --- 4. As a user.
RUN=("${E[@]}" run --rm --network none "${LIMITS[@]}")
runs=$TMP/runs
mkdir -p "$runs"
USER_FLAGS=()
if [[ $(id -u) == 0 ]]; then
	# Root here: the folder belongs to the image's own user (uid 1000).
	chown 1000:1000 "$runs"
elif [[ $ENGINE == podman ]]; then
	USER_FLAGS=(--userns=keep-id)
else
	USER_FLAGS=(-u "$(id -u):$(id -g)")
fi

# shellcheck disable=SC2016 # the container's shell expands $c
out=$("${RUN[@]}" --entrypoint sh "$IMAGE" -c \
	'id -u; for c in train eval suite reproduce analyze bench; do env "$c" -h >/dev/null 2>&1 || { echo "$c -h failed (not on PATH?)"; exit 1; }; done') ||
	die "commands: $out"
[[ $out != 0 ]] || die "the image's user is root"
say "train, eval, suite, reproduce, analyze and bench on PATH; user uid $out"

say "train on the CPU, $runs mounted as /work/runs"
start=$SECONDS
"${RUN[@]}" "${USER_FLAGS[@]}" -v "$runs:/work/runs" "$IMAGE" \
	-steps 20 -batch 8 -eval-every 10 -eval-lengths 128,256 -eval-docs 2 -out runs/check -quiet \
	>"$TMP/train.out" 2>"$TMP/train.err" || die "train failed: $(tail -3 "$TMP/train.err")"
train_s=$((SECONDS - start))
grep -q '^device auto: cpu (' "$TMP/train.err" ||
	die "train did not say that -device auto picked the CPU; its stderr: $(head -3 "$TMP/train.err")"
grep '^device auto:' "$TMP/train.err" | sed 's/^/docker-check:   /'
for f in best/model.safetensors best/config.json last/model.safetensors metrics.jsonl results.md; do
	[[ -s $runs/check/$f ]] || die "train wrote no $f into the mounted folder"
done
owner=$(stat -c %u "$runs/check/results.md")
[[ $owner != 0 ]] || die "results.md was written by root"
grep -q 'InfoScale\|infoscale' "$runs/check/results.md" || die "results.md holds no table: $(head -5 "$runs/check/results.md")"
say "train: ${train_s} s; wrote $(cd "$runs/check" && find . -type f | wc -l) files as uid $owner; results.md read here:"
sed 's/^/docker-check:   /' "$runs/check/results.md" | head -12

say "eval of runs/check/best from a second container (read-only mount)"
"${RUN[@]}" "${USER_FLAGS[@]}" -v "$runs:/work/runs:ro" --entrypoint eval "$IMAGE" \
	-ckpt runs/check/best -lengths 128,256 -docs 2 -quiet >"$TMP/eval.out" 2>"$TMP/eval.err" ||
	die "eval failed: $(tail -3 "$TMP/eval.err")"
grep -q '^device auto: cpu (' "$TMP/eval.err" || die "eval did not say where it ran: $(head -3 "$TMP/eval.err")"
# The same checkpoint, documents and protocol: the same table as train's.
rows() { grep -E '^\| (128|256) \|' "$1" || true; }
[[ -n $(rows "$TMP/eval.out") && $(rows "$TMP/eval.out") == "$(rows "$runs/check/results.md")" ]] ||
	die "eval's table differs from train's results.md: $(rows "$TMP/eval.out") vs $(rows "$runs/check/results.md")"
say "eval: the table of train's results.md, read back from the mounted checkpoint:"
rows "$TMP/eval.out" | sed 's/^/docker-check:   /'

if [[ $(id -u) == 0 ]]; then
	# Any other host user runs it as README.md does, -u "$(id -u):$(id -g)",
	# with a uid the image does not know.
	other=$TMP/other
	mkdir -p "$other"
	chown 4242:4242 "$other"
	"${RUN[@]}" -u 4242:4242 -v "$other:/work/runs" "$IMAGE" -steps 2 -batch 4 -no-eval -out runs/x -quiet \
		2>"$TMP/other.err" || die "train -u 4242:4242 failed: $(tail -3 "$TMP/other.err")"
	[[ $(stat -c %u "$other/x/best/model.safetensors") == 4242 ]] || die "train -u 4242:4242 wrote no checkpoint of uid 4242"
	say "train -u 4242:4242 (a host user the image does not know): its checkpoint written as uid 4242"
fi

# Bad input: one line naming the problem, exit status 1.
set +e
"${RUN[@]}" "$IMAGE" -steps -3 >/dev/null 2>"$TMP/bad.err"
status=$?
set -e
if [[ $status != 1 || $(wc -l <"$TMP/bad.err") != 1 ]] || ! grep -q '^train: -steps -3' "$TMP/bad.err"; then
	die "-steps -3: exit status $status, stderr: $(cat "$TMP/bad.err")"
fi
say "-steps -3: exit status 1, $(cat "$TMP/bad.err")"
set +e
"${RUN[@]}" "$IMAGE" -stepz 3 >/dev/null 2>"$TMP/bad.err"
status=$?
set -e
[[ $status == 1 && $(tail -1 "$TMP/bad.err") == "train: flag provided but not defined: -stepz" ]] ||
	die "-stepz 3: exit status $status, stderr ends: $(tail -2 "$TMP/bad.err")"
say "-stepz 3: exit status 1, $(tail -1 "$TMP/bad.err") (after the usage)"

say "ok: $IMAGE built in ${build_s} s ($((size / 1000000)) MB), trained and evaluated on the CPU as uid $owner"

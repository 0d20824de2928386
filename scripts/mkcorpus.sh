#!/usr/bin/env bash
# Regenerates the embedded default corpus, corpus/data/manpages-zh.jsonl.gz,
# from the zh_CN manual pages of Debian's manpages-zh package.
#
# Usage:
#   scripts/mkcorpus.sh            regenerate corpus/data/manpages-zh.jsonl.gz
#   scripts/mkcorpus.sh --check    regenerate into a temporary file and fail if
#                                  its uncompressed content differs from the
#                                  committed file
#
# The Debian packages manpages-zh and groff are installed with apt-get when
# they are missing (this needs root). See corpus/data/PROVENANCE.md for the
# package version the committed file was made from.
set -euo pipefail

cd "$(dirname "$0")/.."

out=corpus/data/manpages-zh.jsonl.gz
check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

missing=()
for pkg in manpages-zh groff; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if ((${#missing[@]})); then
	echo "installing ${missing[*]}" >&2
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y manpages-zh groff
fi
echo "manpages-zh $(dpkg-query -W -f='${Version}' manpages-zh), $(groff --version | head -n 1)" >&2

if ! $check; then
	exec go run ./scripts/mkcorpus -out "$out"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./scripts/mkcorpus -out "$tmp/corpus.jsonl.gz"
if ! cmp -s <(gzip -dc "$out") <(gzip -dc "$tmp/corpus.jsonl.gz"); then
	echo "$out is out of date: its content differs from a fresh rendering" >&2
	diff <(gzip -dc "$out" | cut -c1-200) <(gzip -dc "$tmp/corpus.jsonl.gz" | cut -c1-200) | head -n 20 >&2 || true
	exit 1
fi
echo "$out is up to date" >&2

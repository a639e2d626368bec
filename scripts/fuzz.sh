#!/usr/bin/env bash
# Runs every fuzz target of the parsers of untrusted input, one after
# another, each for FUZZTIME (go test -fuzz takes one target per package at
# a time). Usage: scripts/fuzz.sh [FUZZTIME], e.g. scripts/fuzz.sh 10s;
# make fuzz runs it with FUZZTIME=20s, .ci/run with 10s.
#
# A target that finds a crash fails the run, after the others have run; go
# test has written the input to <package>/testdata/fuzz/<target>/, where
# plain go test replays it from then on. Fix the parser and keep the file.
#
# Each new interesting input (and a crasher) is minimised with at most
# FUZZMINIMIZETIME runs: go test's default of 60 seconds, or even a few,
# spends a short run minimising instead of fuzzing (the tar target ran 177
# inputs in a minute so, about 140,000 with 100x). The archive and runner
# targets write each input as files: on a tmpfs they run about a hundred
# times faster than on a busy disk, so /dev/shm is used when there is one
# (FUZZTMPDIR overrides).
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${1:-${FUZZTIME:-20s}}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-100x}
if [ -n "${FUZZTMPDIR:-}" ]; then
	export TMPDIR=$FUZZTMPDIR
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi

# package target: every fuzz target of the repository.
targets=(
	"./index/ FuzzParseSimpleHTML"
	"./index/ FuzzParseSimpleJSON"
	"./crawler/ FuzzParseFeed"
	"./crawler/ FuzzFeedLink"
	"./crawler/ FuzzParseUploadTime"
	"./dist/ FuzzNormalize"
	"./dist/ FuzzParseVersion"
	"./dist/ FuzzCompareVersions"
	"./dist/ FuzzParseFilename"
	"./dist/ FuzzParseMarker"
	"./dist/ FuzzParseRequirement"
	"./dist/ FuzzParseMetadata"
	"./dist/ FuzzCheckZip"
	"./runner/ FuzzBuildRequires"
	"./runner/ FuzzRequiresPython"
	"./runner/ FuzzAllowsPython"
	"./runner/ FuzzToxIni"
	"./runner/ FuzzPyprojectTests"
	"./runner/ FuzzHookAnswer"
	"./regression/ FuzzSignatureOf"
	"./archive/ FuzzUnpackTarGz"
	"./archive/ FuzzUnpackZip"
)

# A target missing from the list would never run: refuse to start.
listed=$(printf '%s\n' "${targets[@]}" | awk '{print $2}' | sort)
found=$(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/^func //' | sort)
if [ "$listed" != "$found" ]; then
	echo "fuzz: scripts/fuzz.sh lists other targets than the tests define:" >&2
	diff <(echo "$listed") <(echo "$found") >&2
	exit 1
fi

# fuzz_one PKG NAME: 0 when the target passed, 1 when it failed, 2 when go
# test's only complaint was "context deadline exceeded" with no input
# written: the race in Go's fuzz coordinator at the end of a -fuzztime
# duration (go.dev/issue/75804, fixed in Go 1.27), which says nothing of
# the target.
fuzz_one() {
	local out rc
	out=$(mktemp)
	"$GO" test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "$1" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && grep -q 'context deadline exceeded' "$out" &&
		! grep -qE 'Failing input written|panic:|\.go:[0-9]+: ' "$out"; then
		rc=2
	elif [ "$rc" -ne 0 ]; then
		rc=1
	fi
	rm -f "$out"
	return "$rc"
}

failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name in $pkg for $FUZZTIME"
	fuzz_one "$pkg" "$name"
	rc=$?
	# The coordinator's race is retried, twice at most: a target that
	# keeps ending so still fails the run rather than passing unfuzzed.
	for retry in 1 2; do
		[ "$rc" -eq 2 ] || break
		echo "fuzz: $name ended on Go's fuzz-coordinator deadline race (go.dev/issue/75804), no input found; again ($retry of 2)"
		fuzz_one "$pkg" "$name"
		rc=$?
	done
	if [ "$rc" -ne 0 ]; then
		failed+=("$pkg $name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"

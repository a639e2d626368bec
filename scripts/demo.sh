#!/usr/bin/env bash
# The demo: a local index serving the sample packages, pysmoke watching it
# on the embedded defaults (SQLite, River on SQLite, the namespace sandbox,
# every Python found), reports on http://127.0.0.1:$PORT/. Once the first
# results are in, one more release is published into the index, and the
# service picks it up: usesimp 1.1, which makes its plugin modules with
# types.ModuleType instead of imp (removed in Python 3.12), so that it
# passes where 1.0 failed, a change the overview lists. Ctrl-C stops
# everything.
set -euo pipefail
cd "$(dirname "$0")/.."

PYSMOKE=${PYSMOKE:-bin/pysmoke}
DEMO_DIR=${DEMO_DIR:-.demo}
PORT=${PORT:-8080}
INDEX_PORT=${INDEX_PORT:-8081}
SAMPLES=(smokegood py2only usesimp phonehome)
# PYTHONS, when set, is the service's --python (e.g. 2.7,3.12,3.13);
# default every Python found.
PYTHONS=${PYTHONS:-}

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
pids=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== publishing the samples into the local index ($DEMO_DIR/index)"
for s in "${SAMPLES[@]}"; do
	"$PYSMOKE" index publish --dir "$DEMO_DIR/index" --version 1.0 "testdata/samples/$s"
done
printf '%s\n' "# the projects pysmoke watches" "${SAMPLES[@]}" >"$DEMO_DIR/allowlist.txt"

echo "== starting the local index on http://127.0.0.1:$INDEX_PORT/simple/"
"$PYSMOKE" index --dir "$DEMO_DIR/index" --listen "127.0.0.1:$INDEX_PORT" 2>"$DEMO_DIR/index.log" &
pids+=($!)

# No confirmation reruns here (3 by default): the demo's samples fail for
# certain, and reruns kept the service busy when the demo is stopped (a
# stop mid-job left a scratch mounted in CI; see the issue note).
echo "== starting pysmoke serve (log: $DEMO_DIR/serve.log)"
"$PYSMOKE" serve --index "http://127.0.0.1:$INDEX_PORT/" --allowlist "$DEMO_DIR/allowlist.txt" \
	--data "$DEMO_DIR/data" --listen "127.0.0.1:$PORT" --interval 10s --hint-interval 2s --confirm 0 \
	${PYTHONS:+--python "$PYTHONS"} \
	2> >(tee "$DEMO_DIR/serve.log" >&2) &
pids+=($!)

echo
echo "   reports: http://127.0.0.1:$PORT/"
echo

# Wait for the first results, then publish a new release while it runs.
for _ in $(seq 1 600); do
	grep -q 'msg=tested project=smokegood version=1.0' "$DEMO_DIR/serve.log" 2>/dev/null && break
	sleep 0.5
done
echo "== publishing usesimp 1.1, without imp, into the running index"
rm -rf "$DEMO_DIR/fixed" && mkdir -p "$DEMO_DIR/fixed" && cp -R testdata/samples/usesimp "$DEMO_DIR/fixed/"
cat >"$DEMO_DIR/fixed/usesimp/usesimp/__init__.py" <<'PY'
"""Makes plugin modules on the fly with types.ModuleType (imp is gone in 3.12)."""
import types


def make_plugin(name, source):
    module = types.ModuleType(name)
    exec(source, module.__dict__)
    return module
PY
"$PYSMOKE" index publish --dir "$DEMO_DIR/index" --version 1.1 "$DEMO_DIR/fixed/usesimp"
echo
echo "   reports: http://127.0.0.1:$PORT/   (Ctrl-C to stop)"
wait "${pids[@]}"

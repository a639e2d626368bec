#!/usr/bin/env bash
# Makes a Postgres server answer on this machine for the tests of the
# scaled-out store and queue: Debian's postgresql installed when missing,
# its cluster started, and a superuser role of the user running the tests
# (who then connects over the local socket without a password, the URL
# the tests use unless PYSMOKE_TEST_POSTGRES says otherwise).
set -euo pipefail
if [ -n "${PYSMOKE_TEST_POSTGRES:-}" ]; then
	echo "postgres: the tests use PYSMOKE_TEST_POSTGRES"
	exit 0
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
	echo "postgres: installing Debian's postgresql"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
read -r ver cluster _ status _ < <(pg_lsclusters --no-header | head -1)
if [ -z "${ver:-}" ]; then
	echo "postgres: no cluster; pg_createcluster makes one" >&2
	exit 1
fi
if [ "$status" != online ]; then
	pg_ctlcluster "$ver" "$cluster" start
fi
me=$(id -un)
if ! su postgres -c "psql -Atqc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\"" | grep -q 1; then
	su postgres -c "createuser --superuser '$me'"
fi
echo "postgres: $ver/$cluster online, role $me"

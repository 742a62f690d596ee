#!/usr/bin/env bash
# The Debian packages of the SLURM test cluster (tests/test_slurm.py), installed before the tests run: by
# `make test` (and so by CI's .ci/run), never from inside pytest. Best effort: where they cannot be installed
# (not root, no apt-get, no network to the Debian mirror) it says why and exits 0, and the SLURM tests skip
# with the cause.
set -uo pipefail
PACKAGES=(slurmctld slurmd slurmdbd slurm-client munge mariadb-server)
export PATH="$PATH:/usr/sbin:/sbin"
if command -v slurmctld >/dev/null && command -v sacct >/dev/null && command -v munged >/dev/null \
    && command -v mariadbd >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "install-packages.sh: SLURM test cluster packages missing (${PACKAGES[*]}); need root and apt-get" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" > /tmp/igae-slurm-apt.log 2>&1; }
if ! install; then
    apt-get update -q >> /tmp/igae-slurm-apt.log 2>&1 && install \
        || echo "install-packages.sh: apt-get failed (see /tmp/igae-slurm-apt.log); the SLURM tests will skip" >&2
fi
exit 0

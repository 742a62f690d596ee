#!/usr/bin/env bash
# The Debian packages the tests need, installed before the tests run: by `make test` (and so by CI's .ci/run),
# never from inside pytest. The SLURM test cluster (tests/test_slurm.py) and Chromium, the real browser of the
# viewer test (tests/test_nerf_tools.py). Best effort: where they cannot be installed (not root, no apt-get, no
# network to the Debian mirror) it says why and exits 0, and those tests skip with the cause.
set -uo pipefail
PACKAGES=(slurmctld slurmd slurmdbd slurm-client munge mariadb-server chromium)
export PATH="$PATH:/usr/sbin:/sbin"
if command -v slurmctld >/dev/null && command -v sacct >/dev/null && command -v munged >/dev/null \
    && command -v mariadbd >/dev/null && command -v chromium >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "install-packages.sh: test packages missing (${PACKAGES[*]}); need root and apt-get" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" > /tmp/igae-test-apt.log 2>&1; }
if ! install; then
    apt-get update -q >> /tmp/igae-test-apt.log 2>&1 && install \
        || echo "install-packages.sh: apt-get failed (see /tmp/igae-test-apt.log); the SLURM and browser tests will skip" >&2
fi
exit 0

#!/usr/bin/env bash
# Install what souverain needs on Debian 12: system packages (only the missing ones), a virtualenv and the
# package itself. Idempotent: a second run installs nothing and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(python3 python3-venv python3-dev gcc ca-certificates)
# Debian's Chromium drives the browser tests of the web interface (Playwright never downloads a browser).
SYSTEM_PACKAGES+=(chromium fonts-dejavu-core)
# Debian's PostgreSQL: the store's tests run it as a throwaway cluster on a loopback port (never the system one).
SYSTEM_PACKAGES+=(postgresql)
while read -r pkg; do
    [[ -n "$pkg" && "$pkg" != \#* ]] && SYSTEM_PACKAGES+=("$pkg")
done < scripts/lab-deps.txt

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    # Keep Debian's postinst from starting system-wide nginx/unbound/nsd/postgresql: the lab runs its own on
    # 127.0.0.0/8 and a system nginx listening on 0.0.0.0:80 would hold the ports.
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        for unit in nginx unbound nsd postgresql; do
            systemctl disable --now "$unit" >/dev/null 2>&1 || true
        done
    fi
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating virtualenv .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.souverain-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]] || ! .venv/bin/python -c "import souverain" 2>/dev/null; then
    echo "setup: installing souverain and its pinned dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade "pip==26.3"
    .venv/bin/python -m pip install -q -e ".[dev,postgresql]"
    echo "$want" > "$stamp"
fi
# An editable install leaves src/ uncompiled; where PYTHONDONTWRITEBYTECODE is set (this reference machine, some
# CI runners) Python then compiles every souverain module again in every process: ~2-3 s of start-up for the
# command and each scanning process. compileall writes the bytecode anyway; when it is up to date it only stats.
.venv/bin/python -m compileall -q src
echo "setup: ready ($(.venv/bin/souverain --version))"

#!/bin/sh
# Install headless Chromium and its driver from Debian packages, for tests/browser.
# Idempotent: does nothing when both are already installed. Needs root (or sudo).
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium e chromedriver già installati: $(command -v chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "Servono i permessi di root per installare chromium (apt-get)." >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
echo "installati: $(command -v chromium) $(command -v chromedriver)"

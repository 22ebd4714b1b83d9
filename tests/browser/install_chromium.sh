#!/bin/sh
# Install headless Chromium and its driver from Debian packages, and axe-core (the
# accessibility audit) from npm into tests/browser/node_modules, for tests/browser.
# Idempotent: does nothing for what is already installed. Chromium needs root (or sudo).
# Without npm the audit uses the axe-core inside the PyPI package axe-selenium-python.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
AXE_VERSION="4.11"

install_axe() {
    if [ -f "$HERE/node_modules/axe-core/axe.min.js" ]; then
        echo "axe-core già installato: $HERE/node_modules/axe-core"
        return 0
    fi
    if command -v npm >/dev/null 2>&1; then
        npm install --no-save --no-audit --no-fund --silent --prefix "$HERE" \
            "axe-core@$AXE_VERSION" && echo "installato: axe-core $AXE_VERSION" \
            || echo "axe-core non installato da npm: si userà quello di axe-selenium-python"
    else
        echo "npm assente: l'audit userà l'axe-core di axe-selenium-python"
    fi
}

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium e chromedriver già installati: $(command -v chromium)"
    install_axe
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
install_axe

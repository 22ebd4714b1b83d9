#!/usr/bin/env bash
# Optional system packages for scanned PDFs: Tesseract OCR with Italian data, and poppler's
# pdftoppm (page rasteriser used when a page's image cannot be extracted directly).
# Idempotent: installs only what is missing. Never fails: without apt-get (or without
# permission) it prints a note, and ingestion reports scanned PDFs as "needs OCR".
set -u
PACKAGES=(tesseract-ocr tesseract-ocr-ita poppler-utils)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install_system_deps: already installed: ${PACKAGES[*]}"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: apt-get not available; install ${missing[*]} by hand" \
         "to OCR scanned PDFs (they are reported as needing OCR meanwhile)."
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_system_deps: not root and no sudo; run as root:" \
             "apt-get install -y ${missing[*]}"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    echo "install_system_deps: apt-get install failed; updating package lists and retrying"
    if ! { $SUDO apt-get update && \
           $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }; then
        echo "install_system_deps: could not install ${missing[*]};" \
             "scanned PDFs will be reported as needing OCR."
        exit 0
    fi
fi
echo "install_system_deps: installed ${missing[*]}"
exit 0

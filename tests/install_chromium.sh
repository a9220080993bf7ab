#!/usr/bin/env bash
# Make Debian's chromium available for tests/test_browser.py and print its path.
#
# The browser comes from the distribution's package (apt-get), never from a download of its
# own: Playwright only drives it. Exits non-zero, saying why, when it cannot be installed.
set -euo pipefail

for name in chromium chromium-browser; do
    if path="$(command -v "$name")"; then
        echo "$path"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null; then
    echo "chromium is not installed and there is no apt-get to install it;" \
         "install Debian's or your distribution's chromium package" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "chromium is not installed, and installing it needs root:" \
         "run 'sudo apt-get install chromium' once" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing Debian's chromium (apt-get, about a minute) ..." >&2
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq chromium >&2
command -v chromium

#!/usr/bin/env bash
# Headless Chromium for the web page's end-to-end test (tests/unit/serving/test_page_browser.py).
# The test calls this when no browser is on PATH; it installs Debian's chromium with apt when it
# can (root, apt-get present) and exits non-zero otherwise, and the test then skips saying why.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then command -v "$b"; exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then echo "no apt-get to install chromium with" >&2; exit 3; fi
sudo=""
if [ "$(id -u)" != "0" ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; else echo "not root and no passwordless sudo" >&2; exit 4; fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
  || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null; }
command -v chromium

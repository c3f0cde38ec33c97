#!/usr/bin/env bash
# The browser test needs a headless Chromium. Use $CHROMIUM if set, else Debian's package,
# installing it with apt-get when we are root. Never downloads a browser build of its own.
set -euo pipefail
bin="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "ensure_chromium: installing Debian's chromium with apt-get (once)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
cat >&2 <<MSG
ensure_chromium: the browser test needs Chromium at $bin and this user cannot install it.
Install it (Debian/Ubuntu: sudo apt-get install chromium) or point CHROMIUM=/path/to/chromium.
MSG
exit 1

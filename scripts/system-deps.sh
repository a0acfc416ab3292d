#!/usr/bin/env bash
# Installs what the venv cannot: Chromium, emoji/CJK fonts, the venv module, Node.js (CDK's jsii) and
# bubblewrap (the local Lambda sandbox).
# Debian/Ubuntu only; idempotent and quiet when everything is already there.
set -euo pipefail

need=()
have_chromium() {
  [ -n "${SHOTWIRE_CHROMIUM_PATH:-}" ] && [ -x "${SHOTWIRE_CHROMIUM_PATH}" ] && return 0
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null
}
have_chromium || need+=(chromium)
# grep reads all of fc-list: with pipefail, `grep -q` would stop early and SIGPIPE would fail the check.
fc-list 2>/dev/null | grep -i "Noto Color Emoji" >/dev/null || need+=(fonts-noto-color-emoji)
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || need+=(fonts-noto-cjk)
python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null || need+=(nodejs)
# The local stack runs each function in a Lambda-like sandbox (read-only root, writable /tmp, non-root).
command -v bwrap >/dev/null || need+=(bubblewrap)

[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Missing: ${need[*]}. Install them with your package manager (or set SHOTWIRE_CHROMIUM_PATH)." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null; then
  # Ubuntu ships Chromium as chromium-browser (a snap wrapper) rather than chromium.
  need=("${need[@]/#chromium/chromium-browser}")
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
fi

#!/usr/bin/env bash
# The headless browser of tests/kitchen/test_browser.py: Debian's chromium, installed when missing
# (Playwright drives it; `playwright install` cannot download its own browsers here). On CI a failed
# install fails the run; on a developer's machine that one test then skips, saying chromium is missing.
set -uo pipefail
command -v chromium >/dev/null && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing chromium for the browser test (apt-get)"
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium; }; then
    if [ "${CI:-}" = "true" ]; then
        echo "ERROR: could not install chromium, which the browser test needs" >&2
        exit 1
    fi
    echo "WARNING: could not install chromium: tests/kitchen/test_browser.py will be skipped" >&2
fi
exit 0

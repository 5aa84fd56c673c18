#!/usr/bin/env bash
# Regenerates the screenshots docs/dashboard.md shows, from the dashboard's browser tests
# (server/tests/suite/dashboard.rs, on the sled backend): each test saves its pages under
# target/tmp/screenshots/, and the ones the page shows are copied to docs/dashboard/.
#
# Needs Chromium and chromedriver (Debian: chromium, chromium-driver); the tests start the
# driver from PATH unless LICET_TEST_WEBDRIVER_URL names a running one.
#
#   bash scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shots=target/tmp/screenshots
rm -f "$shots"/sled-*.png
cargo test --locked -p licet-server --test sled -- suite::dashboard:: --test-threads 2
mkdir -p docs/dashboard
for name in overview licenses license license-phone products policy-edit offline audit \
            api-keys webhooks keys-rotated; do
  src="$shots/sled-$name.png"
  if [ ! -f "$src" ]; then
    echo "no screenshot $src: did its test run?" >&2
    exit 1
  fi
  cp "$src" "docs/dashboard/$name.png"
done
echo "docs/dashboard/: $(ls docs/dashboard | wc -l) screenshots"

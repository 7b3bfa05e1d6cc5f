#!/usr/bin/env bash
# Installs the system packages the integration tests drive for real: socat and hatop (admin
# socket clients), tmux (to run hatop), nginx (real backends), chromium and chromium-driver
# (the stats page in a real headless browser), haproxy (differential tests: the same config run by
# the real HAProxy 2.6), openssl and curl (TLS tests: certificates and real TLS clients).
# Debian/Ubuntu, needs root.
set -euo pipefail
needed=()
for pkg in socat hatop tmux nginx-light chromium chromium-driver haproxy openssl curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${needed[*]} (run: sudo apt-get install ${needed[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start nginx on port 80: tests start their own instances.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d

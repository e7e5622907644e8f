#!/usr/bin/env bash
# Test set-up: the browser-page test needs Debian's chromium and chromedriver.
# Installs them when missing and this user may (root with apt-get); otherwise says why.
set -u
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install_chromium: chromium/chromedriver ausentes e sem permissão para instalar (rode como root: apt-get install chromium chromium-driver)" >&2
  exit 0
fi
echo "install_chromium: instalando chromium e chromium-driver (Debian)..." >&2
apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
  || echo "install_chromium: apt-get falhou; o teste da página será pulado" >&2
exit 0

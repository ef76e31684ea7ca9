#!/usr/bin/env bash
# Install the Debian packages that building and testing gestured need:
# libsystemd-dev and pkg-config to build systemd-python, mosquitto as the test
# broker and mosquitto-clients for the README's examples, ffmpeg to serve test streams, rtsp-server-perl as an RTSP relay and
# systemd for systemd-analyze. Packages already present are left alone.
set -euo pipefail

packages=(mosquitto mosquitto-clients ffmpeg rtsp-server-perl libsystemd-dev pkg-config systemd zip)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install these packages with your package manager: ${missing[*]}" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs what building callaudit needs beyond Rust, only if it is missing: libpcap's headers.
# Debian/Ubuntu: libpcap-dev (with sudo unless already root). macOS: the headers ship with the
# Xcode command-line tools. Safe to run repeatedly.
set -euo pipefail

have_pcap_headers() {
    for dir in /usr/include /usr/local/include /opt/homebrew/include; do
        [ -f "$dir/pcap.h" ] || [ -f "$dir/pcap/pcap.h" ] && return 0
    done
    if command -v xcrun >/dev/null 2>&1; then
        sdk=$(xcrun --show-sdk-path 2>/dev/null || true)
        [ -n "$sdk" ] && [ -f "$sdk/usr/include/pcap.h" ] && return 0
    fi
    return 1
}

if have_pcap_headers; then
    exit 0
fi

case "$(uname -s)" in
    Linux)
        if command -v apt-get >/dev/null 2>&1; then
            sudo=""
            [ "$(id -u)" -eq 0 ] || sudo="sudo"
            echo "install-deps: installing libpcap-dev (libpcap headers)" >&2
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libpcap-dev >/dev/null
        elif command -v dnf >/dev/null 2>&1; then
            sudo dnf install -y libpcap-devel
        else
            echo "install-deps: please install libpcap's development headers" >&2
            exit 1
        fi
        ;;
    Darwin)
        echo "install-deps: libpcap headers missing; run: xcode-select --install" >&2
        exit 1
        ;;
    *)
        echo "install-deps: please install libpcap's development headers" >&2
        exit 1
        ;;
esac
have_pcap_headers || { echo "install-deps: libpcap headers still missing" >&2; exit 1; }

#!/usr/bin/env bash
# Install the Debian packages a make target needs, only those missing (a machine that has them pays nothing).
#   build: headers python-ldap compiles against (needed by `make install`, so by serve and test too)
#   test:  what the tests drive: slapd + ldap-utils (the LDAP tests' directory), podman, skopeo and
#          docker-registry (the OCI clients and the upstream registry of the Docker tests)
#   bench: nginx (the reference server of the PyPI and Maven benchmarks) and what the Docker one drives
set -euo pipefail
case "${1:-}" in
  build) pkgs=(libldap2-dev libsasl2-dev) ;;
  test) pkgs=(slapd ldap-utils podman skopeo docker-registry) ;;
  bench) pkgs=(nginx skopeo docker-registry) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
command -v dpkg >/dev/null 2>&1 || exit 0   # not Debian: the packages are the user's to provide
dpkg -s "${pkgs[@]}" >/dev/null 2>&1 && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

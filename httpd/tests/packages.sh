#!/usr/bin/env bash
# The Debian packages of the httpd test bed (httpd/tests), installed when missing; idempotent.
#
# krb5-kdc, krb5-admin-server (kadmin.local only; kadmind is never started) and krb5-user for a
# private MIT realm; apache2-bin (httpd, mod_ssl, mod_proxy, mod_headers), libapache2-mod-auth-gssapi
# (SPNEGO), libapache2-mod-wsgi-py3 (and python3-venv for the virtualenv it loads kstoken from),
# apache2-dev (apxs) and apache2-utils; curl (GSS-API built in) as the client; memcached (the
# module's second-level cache shared with kstoken.middleware). libssl3 and openssl come along: apache2-bin is built against the newest 3.0.x point
# release and mod_ssl logs AH01882 with an older libssl3.
#
# Postinst scripts would start the system's krb5kdc, kadmind and apache2: a policy-rc.d that refuses
# (exit 101) is put in place for the install when the machine has none, and removed afterwards.
set -euo pipefail

PKGS=(krb5-kdc krb5-admin-server krb5-user apache2-bin apache2-dev apache2-utils
      libapache2-mod-auth-gssapi libapache2-mod-wsgi-py3 python3-venv curl openssl memcached)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "   packages present"
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "   installing ${missing[*]} with apt-get"
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# added by kstoken httpd/tests/packages.sh for one install\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT
# Other processes (another test script, unattended upgrades) may hold dpkg's lock: wait for it.
apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" libssl3 >/dev/null
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || {
        echo "FAIL: $p could not be installed" >&2
        exit 1
    }
done

# make deb's package (BIN is build/release/bridgeport; the .deb is next to build/release):
# its control data and contents, its dependencies against what the binaries link, and
# dpkg installing, upgrading, removing and purging it in a root of the test's own, without
# systemd and without a Swift toolchain. That root is the machine's /usr under an overlay
# (writes go to $STATE) and a copy of its dpkg database, in a mount namespace of the test's
# own: the machine's root, dpkg database and systemd are never touched.
VERSION=$("$BIN" --version)
DEB=$(dirname "$(dirname "$BIN")")/bridgeport_${VERSION}_$(dpkg --print-architecture).deb
check "the package is there ($(basename "$DEB"))" test -f "$DEB"

check_output "dpkg-deb -I: the package and version" "^ Version: $VERSION$" dpkg-deb -I "$DEB"
depends=$(dpkg-deb -f "$DEB" Depends)
# depends PACKAGE: Depends names it.
depends() { sed 's/ *([^)]*)//g; s/, */\n/g' <<<"$depends" | grep -qxF "$1"; }
for package in libbpf1 libdeflate0 libnl-route-3-200 libsqlite3-0 libyaml-0-2 zlib1g; do
    check "depends on $package" depends "$package"
done
check_output "daemon.json is a conffile" '^/etc/bridgeport/daemon\.json$' dpkg-deb -I "$DEB" conffiles
check "dpkg-deb -c: the binary, the CNI plugin, the unit and daemon.json, root's, with their modes" \
    diff <(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $1, $2, $6 }') - <<'LIST'
-rw-r--r-- root/root ./etc/bridgeport/daemon.json
-rw-r--r-- root/root ./lib/systemd/system/bridgeport.service
-rwxr-xr-x root/root ./usr/bin/bridgeport
-rwxr-xr-x root/root ./usr/lib/cni/bridgeport-cni
LIST

# Every library the binaries need (NEEDED, as ldd finds it) comes from a package of Depends
# (dpkg -S: the package that installed it here), as dpkg-shlibdeps would say.
dpkg-deb -x "$DEB" "$STATE/x"
for binary in "$STATE/x/usr/bin/bridgeport" "$STATE/x/usr/lib/cni/bridgeport-cni"; do
    for needed in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
        library=$(ldd "$binary" | awk -v n="$needed" '$1 == n && $3 ~ /^\// { print $3 } $1 ~ "/" n "$" { print $1 }')
        package=$({ dpkg -S "$library" 2>/dev/null || dpkg -S "*/$(basename "$library")"; } | head -1 | cut -d: -f1)
        check "$(basename "$binary") needs $(basename "$library") of $package, in Depends" depends "$package"
    done
done

# The root: /usr the machine's under an overlay, /etc and /var as the package will find them.
ROOT=$STATE/root
mkdir -p "$ROOT"/{usr,etc,var/lib,dev,proc,run,tmp} "$STATE/usr-upper" "$STATE/usr-work"
for dir in bin lib lib64 sbin; do ln -s usr/$dir "$ROOT/$dir"; done
cp -a /var/lib/dpkg "$ROOT/var/lib/"
cp -a /etc/ld.so.cache /etc/ld.so.conf /etc/ld.so.conf.d /etc/passwd /etc/group "$ROOT/etc/"
touch "$ROOT/dev/null"
sandbox_mount_namespace || { fail "a mount namespace of the test's own"; return; }
ENTER="nsenter --mount=$STATE/mnt/ns"
$ENTER mount -t overlay overlay -o "lowerdir=/usr,upperdir=$STATE/usr-upper,workdir=$STATE/usr-work" "$ROOT/usr" &&
    $ENTER mount --bind /dev/null "$ROOT/dev/null" && $ENTER mount -t proc proc "$ROOT/proc" ||
    { fail "the root's /usr, /dev/null and /proc"; return; }
in_root() { $ENTER chroot "$ROOT" "$@"; }
dpkg_root() { $ENTER dpkg --root="$ROOT" "$@"; }
# snapshot: the root's files outside /usr, and the files written to its /usr.
snapshot() { (cd "$ROOT" && find etc var/lib/systemd ! -type d 2>/dev/null; cd "$STATE/usr-upper" && find . ! -type d) | sort; }
before=$(snapshot)

check "dpkg -i installs it, its dependencies those of the machine (Debian 12)" dpkg_root -i "$DEB"
check_output "dpkg -s: installed" '^Status: install ok installed$' dpkg_root -s bridgeport
check "the files are where the package put them" in_root test -x /usr/bin/bridgeport -a -x /usr/lib/cni/bridgeport-cni \
    -a -f /lib/systemd/system/bridgeport.service -a -f /etc/bridgeport/daemon.json
check_output "the unit runs the installed binary" '^ExecStart=/usr/bin/bridgeport daemon$' \
    in_root grep ^ExecStart= /lib/systemd/system/bridgeport.service
check_output "postinst enabled the unit (no systemd here: nothing started)" '/lib/systemd/system/bridgeport\.service$' \
    readlink "$ROOT/etc/systemd/system/multi-user.target.wants/bridgeport.service"
check_output "the installed binary runs in the root, which has no /opt (no Swift toolchain)" "^$VERSION$" \
    in_root /usr/bin/bridgeport --version
check_output "... the unit's command too" '^USAGE: bridgeport daemon' \
    in_root sh -c "\$(sed -n 's/^ExecStart=//p' /lib/systemd/system/bridgeport.service) --help"
check_output "... and the CNI plugin" '"supportedVersions"' in_root env CNI_COMMAND=VERSION /usr/lib/cni/bridgeport-cni

echo '{"mtu": 1400}' >"$ROOT/etc/bridgeport/daemon.json"
check "dpkg -i again: an upgrade (postinst restarts, where systemd runs)" dpkg_root -i "$DEB"
check_output "... keeps the changed daemon.json" '"mtu": 1400' cat "$ROOT/etc/bridgeport/daemon.json"
check "dpkg -r removes it" dpkg_root -r bridgeport
check "... its files" in_root sh -c '! test -e /usr/bin/bridgeport -o -e /usr/lib/cni/bridgeport-cni -o -e /lib/systemd/system/bridgeport.service'
check_output "... but not the changed daemon.json (a conffile)" '"mtu": 1400' cat "$ROOT/etc/bridgeport/daemon.json"
check "dpkg -P purges it" dpkg_root -P bridgeport
check "... and the root is as it was (daemon.json, the unit's links and state gone)" diff <(echo "$before") <(snapshot)
# Where systemd runs (/run/systemd/system; systemctl a stand-in that logs its calls): the
# unit is started on install, restarted on upgrade, stopped on removal, and never started
# when policy-rc.d answers 101.
mkdir -p "$ROOT/run/systemd/system"
$ENTER sh -c "cat >'$ROOT/usr/bin/systemctl'" <<'FAKE'
#!/bin/sh
echo "$*" >>/tmp/systemctl.log
case "$*" in *is-enabled*) echo enabled ;; esac
FAKE
policy() { $ENTER sh -c "printf '#!/bin/sh\nexit $1\n' >'$ROOT/usr/sbin/policy-rc.d' && chmod 755 '$ROOT/usr/sbin/policy-rc.d'"; }
# calls: what systemctl was asked since the last time, but is-enabled and is-active, on a line.
calls() { grep -vE 'is-(enabled|active)' "$ROOT/tmp/systemctl.log" | sed 's/--quiet //; s/--system //' | paste -sd ';'; : >"$ROOT/tmp/systemctl.log"; }
$ENTER chmod 755 "$ROOT/usr/bin/systemctl" && policy 0 && : >"$ROOT/tmp/systemctl.log"
check "under systemd: dpkg -i" dpkg_root -i "$DEB"
check_output "... reloads systemd and starts the agent" 'daemon-reload;start bridgeport\.service$' calls
check "an upgrade" dpkg_root -i "$DEB"
check_output "... restarts it" 'daemon-reload;restart bridgeport\.service$' calls
check "dpkg -r" dpkg_root -r bridgeport
check_output "... stops it, then reloads systemd" '^stop bridgeport\.service;daemon-reload' calls
policy 101
check "with a policy-rc.d that answers 101: dpkg -i" dpkg_root -i "$DEB"
check_output "... starts nothing" '^(daemon-reload;?)+$' calls
check "dpkg -P" dpkg_root -P bridgeport

check "the machine has no bridgeport package, unit or /usr/bin/bridgeport" bash -c \
    '! dpkg -s bridgeport 2>/dev/null && [ -z "$(find /etc/systemd/system /lib/systemd/system -name "bridgeport*")" ] && ! [ -e /usr/bin/bridgeport ]'

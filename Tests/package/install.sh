# make install and make uninstall, into a staging root (DESTDIR): what goes where, the
# unit's ExecStart, daemon.json installed once and kept when changed, and nothing left after.
REPO=$(cd "$TOOLS/../../.." && pwd)
DEST=$STATE/dest
mk() { make --no-print-directory -C "$REPO" "$@" DESTDIR="$DEST" PREFIX=/usr/local; }
# files: every file and link of the staging root, as "PATH MODE".
files() { (cd "$DEST" && find . ! -type d -printf '%p %m\n' | sort); }

check "make install PREFIX=/usr/local DESTDIR=..." mk install
check "the binary, the CNI plugin, the unit and daemon.json, with their modes" diff <(files) - <<'LIST'
./etc/bridgeport/daemon.json 644
./opt/cni/bin/bridgeport-cni 755
./usr/local/bin/bridgeport 755
./usr/local/lib/systemd/system/bridgeport.service 644
LIST
check "the installed binary is the release one" cmp "$DEST/usr/local/bin/bridgeport" "$BIN"
check_output "the unit runs the installed binary" '^ExecStart=/usr/local/bin/bridgeport daemon$' \
    grep ^ExecStart= "$DEST/usr/local/lib/systemd/system/bridgeport.service"
check_output "daemon.json is an empty configuration" '^\{\}$' cat "$DEST/etc/bridgeport/daemon.json"

echo '{"mtu": 1400}' >"$DEST/etc/bridgeport/daemon.json"
check "make install again" mk install
check_output "... keeps a changed daemon.json" '"mtu": 1400' cat "$DEST/etc/bridgeport/daemon.json"

mkdir -p "$DEST/etc/systemd/system/multi-user.target.wants"
ln -s /usr/local/lib/systemd/system/bridgeport.service "$DEST/etc/systemd/system/multi-user.target.wants/"
before=$(files)
check_fails "make uninstall refuses while the unit is enabled" 2 'systemctl disable --now bridgeport first' mk uninstall
check "... and removes nothing" test "$(files)" = "$before"
rm -r "$DEST/etc/systemd"

check_output "make uninstall keeps the changed daemon.json, and says so" 'kept .*/etc/bridgeport/daemon.json: it was changed' \
    mk uninstall
check_output "... and nothing else is left" '^\./etc/bridgeport/daemon\.json 644$' files

rm "$DEST/etc/bridgeport/daemon.json"
check "make install" mk install
check "make uninstall" mk uninstall
check_output "... leaves no file" '^$' files
check "... and no /etc/bridgeport" test ! -e "$DEST/etc/bridgeport"

#!/usr/bin/env bash
# fcs-switchover.exe under Wine, from the Linux side (ctest: fcs_windows_e2e_switchover):
#   e2e_switchover.sh SWITCHOVER.exe WINEPREFIX WINE64
# Two data folders inside the prefix (C:\fcs-sw-PID\active and ...\backup), on the Windows
# folder storage and ACL (storage::windows_directory, acl::windows):
#  1. init on the active one generates the group CA; init on the backup one another pair;
#  2. export from the active one; importing that certificate with the backup's own key (no
#     match) exits 1 naming the key file and the cause, and the backup's pair is unchanged;
#  3. importing the exported pair (--format der) into the backup succeeds; the old pair is in
#     Certificates\ServerGroup\Backup\<UTC>\, byte for byte; the same pair as a PKCS#12
#     bundle into a third folder: a --password-file others may read refused, the owner-only
#     one taken, --password-env (a wrong password refused; --password on argv refused, not
#     echoed);
#  4. verify (backup against active) says identical, with the active's fingerprint, and both
#     `status` show the same SHA-256, also openssl's; verify against a third pair exits 1;
#  5. issue signs a child certificate that openssl verifies against ServerGroupCA.crt;
#  6. --storage etcd://... exits 2 saying it is not available on Windows.
# A missing openssl says SKIPPED (ctest: skipped); under CI=true it fails instead.
set -euo pipefail
exe=$1 prefix=$2 wine=$3
. "$(dirname "$0")/lib.sh"
need_tools openssl sha256sum "$wine"
need_prefix "$prefix"

folder=fcs-sw-$$
root=$prefix/drive_c/$folder
win='C:\'$folder
out=$(mktemp) err=$(mktemp)
cleanup() { rm -rf "$root" "$out" "$err"; }
trap cleanup EXIT
mkdir -p "$root"

fail() { echo "FAILED: $*"; echo "--- stdout:"; cat "$out"; echo "--- stderr:"; cat "$err"; exit 1; }
# sw EXPECTED-EXIT ARGS...: runs the program under Wine, output in $out / $err.
sw() {
  local want=$1 rc=0; shift
  in_wine "$exe" "$@" >"$out" 2>"$err" || rc=$?
  echo "\$ fcs-switchover $* -> exit $rc" >&2
  [ "$rc" = "$want" ] || fail "exit $rc, expected $want"
}
has() { grep -qF -- "$2" "$1" || fail "no \"$2\" in $(basename "$1")"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
group=Certificates/ServerGroup
cert=ServerGroupCertificate.cer key=ServerGroupPrivateKey.bin
# The fingerprint `status` prints (SHA-256:), upper-case hex without colons.
fingerprint_of() { sw 0 status --data-dir "$1"; sed -n 's/^SHA-256: *//p' "$out" | tr -d ': \r' | tr a-f A-F; }
openssl_fp() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//' | tr -d ':' | tr a-f A-F; }

# 1. the group CA on the active server; another pair on the backup.
sw 0 init --data-dir "$win\\active"
has "$out" "generated the server-group CA certificate and key"
sw 0 init --data-dir "$win\\backup" --key-type ec-p384
has "$out" "generated the server-group CA certificate and key"
old_cert=$(sha_of "$root/backup/$group/$cert") old_key=$(sha_of "$root/backup/$group/$key")
active_fp=$(fingerprint_of "$win\\active")
ossl_fp=$(openssl_fp "$root/active/$group/$cert")
[ "$active_fp" = "$ossl_fp" ] || fail "status fingerprint $active_fp is not openssl's $ossl_fp"

# 2. export; a key that does not match refuses the import and changes nothing.
sw 0 export --data-dir "$win\\active" --to "$win\\transfer"
has "$out" "exported: "
[ -f "$root/transfer/$cert" ] && [ -f "$root/transfer/$key" ] || fail "export wrote no files"
cmp -s "$root/transfer/$cert" "$root/active/$group/$cert" || fail "the exported certificate differs"
cp "$root/backup/$group/$key" "$root/wrong.key"
sw 1 import --data-dir "$win\\backup" --cert "$win\\transfer\\$cert" --key "$win\\wrong.key"
has "$err" 'wrong.key: the private key does not match the certificate in'
echo "  refused: $(cat "$err")"
[ "$(sha_of "$root/backup/$group/$cert")" = "$old_cert" ] || fail "the refused import changed the certificate"
[ "$(sha_of "$root/backup/$group/$key")" = "$old_key" ] || fail "the refused import changed the key"
[ ! -d "$root/backup/$group/Backup" ] || [ -z "$(ls -A "$root/backup/$group/Backup")" ] ||
  fail "the refused import made a backup"

# 3. the identical pair into the backup server; the old pair backed up, not lost.
sw 0 import --data-dir "$win\\backup" --cert "$win\\transfer\\$cert" --key "$win\\transfer\\$key" --format der
has "$out" "imported: "
has "$out" "[commit]"
cmp -s "$root/backup/$group/$cert" "$root/active/$group/$cert" || fail "the imported certificate is not the active one"
backups=("$root/backup/$group/Backup"/*/)
[ "${#backups[@]}" = 1 ] && [ -d "${backups[0]}" ] || fail "no backup folder: $(ls -R "$root/backup/$group")"
[ "$(sha_of "${backups[0]}/$cert")" = "$old_cert" ] || fail "the backed-up certificate is not the old one"
[ "$(sha_of "${backups[0]}/$key")" = "$old_key" ] || fail "the backed-up key is not the old one"
echo "  old pair kept in Backup/$(basename "${backups[0]}")"
sw 0 import --data-dir "$win\\backup" --cert "$win\\transfer\\$cert" --key "$win\\transfer\\$key"
has "$out" "already present: the identical pair is installed; nothing changed"

# 3b. the same pair as a password-protected PKCS#12 bundle, the password from the environment
# (never on the command line), into the third server "other" (which holds its own pair).
sw 0 init --data-dir "$win\\other"
openssl x509 -inform DER -in "$root/transfer/$cert" -out "$root/pair.crt"
openssl pkey -inform DER -in "$root/transfer/$key" -out "$root/pair.key"
openssl pkcs12 -export -in "$root/pair.crt" -inkey "$root/pair.key" -out "$root/group.p12" \
  -passout pass:s3cret-pw
FCS_SW_PW=wrong-pw sw 1 import --data-dir "$win\\other" --bundle "$win\\group.p12" --password-env FCS_SW_PW
has "$err" "group.p12"
echo "  wrong password refused: $(tail -1 "$err")"
# A password file others may read is refused (Wine shows mode 0644 as an Everyone read entry,
# which acl::windows judges as it judges a key's DACL); the same file owner-only is taken.
printf 's3cret-pw\n' >"$root/pw.txt"
chmod 644 "$root/pw.txt"
sw 1 import --data-dir "$win\\other" --bundle "$win\\group.p12" --password-file "$win\\pw.txt"
has "$err" "pw.txt"
has "$err" "a password file must be readable by you only"
echo "  open password file refused: $(tail -1 "$err")"
chmod 600 "$root/pw.txt"
sw 0 import --data-dir "$win\\other" --bundle "$win\\group.p12" --password-file "$win\\pw.txt"
has "$out" "imported: "
cmp -s "$root/other/$group/$cert" "$root/active/$group/$cert" || fail "the bundle's certificate is not the active one"
FCS_SW_PW=s3cret-pw sw 0 import --data-dir "$win\\other" --bundle "$win\\group.p12" --password-env FCS_SW_PW
has "$out" "already present: the identical pair is installed; nothing changed"
sw 2 import --data-dir "$win\\other" --bundle "$win\\group.p12" --password s3cret-pw
has "$err" "passwords are never taken from the command line"
grep -qF s3cret-pw "$err" && fail "the password was echoed"

# 4. both servers present the same certificate.
sw 0 verify --data-dir "$win\\backup" --peer "$win\\active"
has "$out" "identical: certificate and private key are the same on both sides"
verify_fp=$(sed -n 's/^SHA-256: *//p' "$out" | tr -d ': \r' | tr a-f A-F)
backup_fp=$(fingerprint_of "$win\\backup")
echo "  active SHA-256 $active_fp"
echo "  backup SHA-256 $backup_fp (verify: $verify_fp)"
[ "$backup_fp" = "$active_fp" ] && [ "$verify_fp" = "$active_fp" ] || fail "fingerprints differ"
rm -rf "$root/other"
sw 0 init --data-dir "$win\\other"
sw 1 verify --data-dir "$win\\backup" --peer "$win\\other"
has "$out" "different:"

# 5. the group CA signs a child certificate.
sw 0 issue --data-dir "$win\\active" --cn sub1 --dns sub1.example --out "$win\\child"
has "$out" "issued: "
openssl verify -CAfile "$root/child/ServerGroupCA.crt" "$root/child/sub1.crt" >"$out" 2>&1 ||
  fail "openssl does not verify the child against ServerGroupCA.crt"
openssl x509 -in "$root/child/sub1.crt" -noout -ext subjectAltName | grep -q "DNS:sub1.example" ||
  fail "the child has no DNS:sub1.example"
echo "  child sub1.crt verifies against ServerGroupCA.crt"

# 6. no etcd storage on Windows.
sw 2 status --data-dir "$win\\active" --storage etcd://127.0.0.1:2379/fcs
has "$err" "not available on Windows"
echo "PASSED"

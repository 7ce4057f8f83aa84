#!/usr/bin/env bash
# Whole-process costs of the release binary: start-up plus one email, a batch of every fixture,
# and the peak memory of a 10 MB email (docs/DESIGN.md "Performance targets": must not need 100 MB).
# Usage: benches/whole_process.sh PATH/TO/invite-router
set -euo pipefail
binary=${1:?usage: whole_process.sh PATH/TO/invite-router}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

one="$root/fixtures/emails/outlook/exchange-invite-w-europe.eml"
runs=200
start=$(date +%s%N)
for _ in $(seq "$runs"); do "$binary" inspect "$one" >/dev/null; done
end=$(date +%s%N)
echo "inspect, one Outlook invite, whole process: $(( (end - start) / runs / 1000 )) us per run (mean of $runs)"

mapfile -t all < <(find "$root/fixtures/emails" -name '*.eml' | sort)
start=$(date +%s%N)
"$binary" process --state "$work/state" "${all[@]}" >/dev/null
end=$(date +%s%N)
echo "process, ${#all[@]} fixture emails into a fresh SQLite ledger: $(( (end - start) / 1000000 )) ms in all"

# A 10 MB email: a real invite with a large PDF attached (base64), as organizers do send.
python3 - "$one" "$work/big.eml" <<'PY'
import base64, os, sys
invite = open(sys.argv[1], "rb").read()
head, sep, body = invite.partition(b"\r\n\r\n")
blob = base64.encodebytes(os.urandom(7_300_000)).replace(b"\n", b"\r\n")
mixed = (b"From: organizer@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\n" + invite +
         b"\r\n--big\r\nContent-Type: application/pdf; name=\"agenda.pdf\"\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n" + blob + b"\r\n--big--\r\n")
open(sys.argv[2], "wb").write(mixed)
PY
size=$(stat -c %s "$work/big.eml")
/usr/bin/time -f "%M" -o "$work/rss" "$binary" inspect "$work/big.eml" >/dev/null
echo "inspect, a $(( size / 1000000 )) MB email: peak RSS $(( $(cat "$work/rss") / 1024 )) MB"

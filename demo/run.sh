#!/usr/bin/env bash
# An invite's life through `invite-router process` on the embedded backend (SQLite ledger, JSONL
# topic files): no server, no AWS account, no python. Usage: demo/run.sh BINARY STATE_DIR
set -euo pipefail

binary=${1:?usage: demo/run.sh BINARY STATE_DIR}
state=${2:?usage: demo/run.sh BINARY STATE_DIR}
emails_dir=$(cd "$(dirname "$0")/emails" && pwd)
emails=("$emails_dir"/*.eml)

# The value of a string field of a one-line JSON object ("-" when null or absent).
field() {
  local value
  value=$(printf '%s\n' "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -n 1 | sed -E "s/^\"$2\":\"(.*)\"$/\1/" || true)
  printf '%s' "${value:--}"
}

describe() {
  case "$1" in
    01-*) echo "Alice invites create@ to a meeting" ;;
    02-*) echo "Alice moves it to another day" ;;
    03-*) echo "the first invite, delivered late" ;;
    04-*) echo "Mallory tries to cancel it" ;;
    05-*) echo "Alice cancels it" ;;
    06-*) echo "Bob writes without an invite" ;;
    07-*) echo "someone forges Alice's address" ;;
    *) echo "" ;;
  esac
}

run() {
  "$binary" process --state "$state" "${emails[@]}"
}

rm -rf "$state"
echo "== Processing ${#emails[@]} emails into a fresh state directory: $state"
echo
output=$(run)
printf '%-28s %-36s %-10s %-22s %s\n' "INPUT" "WHAT HAPPENS" "ROUTE" "REASON" "SENDER TOLD"
printf '%-28s %-36s %-10s %-22s %s\n' "-----" "------------" "-----" "------" "-----------"
while IFS= read -r line; do
  name=$(basename "$(field "$line" source)")
  told=$(printf '%s' "$line" | grep -q '"notify_sender":true' && echo yes || echo no)
  printf '%-28s %-36s %-10s %-22s %s\n' "$name" "$(describe "$name")" \
    "$(field "$line" route)" "$(field "$line" reason)" "$told"
done <<< "$output"

echo
echo "== Topic files (one JSON line per published message: topic, SNS attributes, message)"
for topic in create update cancel rejected; do
  file="$state/topics/$topic.jsonl"
  count=0
  [[ -f $file ]] && count=$(wc -l < "$file" | tr -d ' ')
  printf '  %-40s %s message(s)\n' "$file" "$count"
done

echo
echo "== A peek at what subscribers receive"
for topic in create update cancel; do
  file="$state/topics/$topic.jsonl"
  [[ -f $file ]] || continue
  while IFS= read -r line; do
    printf '  %-8s %-20s start %-22s sequence %s  dedupe_id %.16s...\n' "$topic" \
      "$(field "$line" summary)" "$(field "$line" start)" \
      "$(printf '%s' "$line" | grep -o '"sequence":[0-9]*' | head -n 1 | cut -d: -f2)" \
      "$(field "$line" dedupe_id)"
  done < "$file"
done
if [[ -f $state/topics/rejected.jsonl ]]; then
  while IFS= read -r line; do
    printf '  %-8s to %-22s %s\n' rejected "$(field "$line" sender)" "$(field "$line" explanation)"
  done < "$state/topics/rejected.jsonl"
fi

echo
echo "== Replies (what SES would send; written to $state/replies/)"
for reply in "$state"/replies/*.eml; do
  [[ -f $reply ]] || continue
  to=$(grep -m1 '^To:' "$reply" | sed 's/^To: *//')
  subject=$(grep -m1 '^Subject:' "$reply" | sed 's/^Subject: *//')
  printf '  to %-24s %s\n' "$to" "$subject"
done
echo "  (none for the forged cancel: its sender did not authenticate, and answering would be backscatter)"
first=$(ls "$state"/replies/*.eml 2>/dev/null | head -n 1)
if [[ -n $first ]]; then
  echo
  echo "== One of them, the text part"
  # The text part is quoted-printable: undo its soft line breaks for reading.
  tr -d '\r' < "$first" | sed -n '/^Content-Type: text\/plain/,/^--invite-router/p' | sed '1,3d;$d' |
    sed -e ':a' -e '/=$/{N;s/=\n//;ba}' -e 's/=3D/=/g' | sed 's/^/  | /'
fi

echo
echo "== Running the same emails again: nothing changes (the ledger knows them all)"
before=$(cat "$state"/topics/*.jsonl | wc -l | tr -d ' ')
replies_before=$(ls "$state"/replies | wc -l | tr -d ' ')
routes=$(run | while IFS= read -r line; do printf '%s ' "$(field "$line" route)"; done)
after=$(cat "$state"/topics/*.jsonl | wc -l | tr -d ' ')
replies_after=$(ls "$state"/replies | wc -l | tr -d ' ')
echo "  routes: $routes"
echo "  published lines before: $before, after: $after; replies before: $replies_before, after: $replies_after"
[[ $before == "$after" ]] || { echo "demo: the second run published something" >&2; exit 1; }
[[ $replies_before == "$replies_after" ]] || { echo "demo: the second run sent a reply" >&2; exit 1; }
echo
echo "The ledger is $state/ledger.sqlite3; run 'invite-router process --state $state FILE.eml' to add more."

"""Reads each email with the Python stack of `python_baseline.py` (stdlib `email` + PyPI
`icalendar`) the way a Python Lambda would, and lists where it disagrees with `invite-router
inspect` on what routing depends on: METHOD, UID, SEQUENCE, DTSTART (as UTC, a date, or a
floating time) and SUMMARY of the first VEVENT. fixtures/README.md explains each disagreement.

Usage: python benches/python_compare.py INVITE_ROUTER_BINARY FILE.eml...
"""

import datetime
import email
import email.policy
import json
import subprocess
import sys

import icalendar


def python_reading(raw: bytes):
    """METHOD, UID, SEQUENCE, DTSTART and SUMMARY of the first VEVENT of the first calendar part."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        content_type = part.get_content_type()
        name = (part.get_filename() or "").lower()
        if content_type in ("text/calendar", "application/ics") or name.endswith(".ics"):
            payload = part.get_payload(decode=True) or b""
            try:
                calendar = icalendar.Calendar.from_ical(payload)
            except Exception as error:  # the Lambda would fail the same way
                return {"error": f"{type(error).__name__}: {error}"[:120]}
            for event in calendar.walk("VEVENT"):
                method = calendar.get("METHOD")
                return {
                    "method": str(method) if method is not None else None,
                    "uid": str(event.get("UID")) if event.get("UID") is not None else None,
                    "sequence": int(event.get("SEQUENCE", 0)),
                    "start": time_text(event.decoded("DTSTART", None)),
                    "summary": str(event.get("SUMMARY")) if event.get("SUMMARY") is not None else None,
                }
            return {"error": "no VEVENT"}
    return {"error": "no calendar part"}


def time_text(value):
    """The time forms of docs/DESIGN.md "The command line's JSON": RFC 3339 UTC for a zoned time, a date, or a floating time."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def our_reading(binary: str, path: str):
    report = json.loads(subprocess.run([binary, "inspect", path], capture_output=True, check=False).stdout)
    return {
        "method": report["method"],
        "uid": report["uid"],
        "sequence": report["sequence"],
        "start": report["start"],
        "summary": report["summary"],
        "reason": report["reason"],
    }


def main() -> None:
    binary, paths = sys.argv[1], sys.argv[2:]
    disagreements = 0
    for path in paths:
        with open(path, "rb") as handle:
            theirs = python_reading(handle.read())
        ours = our_reading(binary, path)
        if "error" in theirs:
            if ours["reason"] is None:
                disagreements += 1
                print(f"{path}\n    python: {theirs['error']}\n    ours:   valid")
            continue
        fields = [f for f in ("method", "uid", "sequence", "start", "summary") if theirs[f] != ours[f]]
        # A refusal that read nothing has nothing to compare.
        if fields and ours["uid"] is not None:
            disagreements += 1
            print(path)
            for field in fields:
                print(f"    {field}: python {theirs[field]!r}, ours {ours[field]!r} ({ours['reason'] or 'valid'})")
    print(f"{disagreements} of {len(paths)} emails read differently")


if __name__ == "__main__":
    main()

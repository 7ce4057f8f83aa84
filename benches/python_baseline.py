"""The Python yardstick docs/DESIGN.md "Performance targets" compares against: the same job (find the calendar parts of an
email, parse them, read METHOD/UID/SEQUENCE/DTSTART) with the stdlib `email` package and PyPI's
`icalendar`, the way a Python Lambda would do it. Prints the mean time per email (and, with
BENCH_FIGURES set, writes it to BENCH_FIGURES/python_baseline.json for benches/cost.py).

Usage: python benches/python_baseline.py ROUNDS FILE.eml...
"""

import email
import email.policy
import json
import os
import sys
import time

import icalendar


def read_invite(raw: bytes):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = []
    for part in message.walk():
        content_type = part.get_content_type()
        name = (part.get_filename() or "").lower()
        if content_type in ("text/calendar", "application/ics") or name.endswith(".ics"):
            payload = part.get_payload(decode=True) or b""
            calendar = icalendar.Calendar.from_ical(payload)
            for event in calendar.walk("VEVENT"):
                found.append(
                    (
                        str(calendar.get("METHOD")),
                        str(event.get("UID")),
                        int(event.get("SEQUENCE", 0)),
                        event.decoded("DTSTART", None),
                    )
                )
    return found


def main() -> None:
    rounds = int(sys.argv[1])
    emails = [open(path, "rb").read() for path in sys.argv[2:]]
    for raw in emails:
        read_invite(raw)
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in emails:
            read_invite(raw)
    elapsed = time.perf_counter() - started
    per_email_us = elapsed / (rounds * len(emails)) * 1e6
    print(f"python email+icalendar: {per_email_us:.0f} us per email over {len(emails)} emails x {rounds} rounds")
    # For benches/cost.py, as the Rust benchmarks do (benches/common/figures.rs).
    figures = os.environ.get("BENCH_FIGURES")
    if figures:
        os.makedirs(figures, exist_ok=True)
        with open(os.path.join(figures, "python_baseline.json"), "w") as out:
            json.dump({"per_email_us": per_email_us}, out, indent=2)


if __name__ == "__main__":
    main()

"""The interop scripts' record of mismatches: check() notes and prints each one (and
returns whether the condition held), and count() tells main() whether to fail."""

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("MISMATCH:", what)
    return condition


def count():
    if failures:
        print(f"{len(failures)} mismatches")
    return len(failures)

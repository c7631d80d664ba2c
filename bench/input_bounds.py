"""What bounded input costs: privacy_saas.inputs.load_json vs json.loads on the same bodies, side by side.

Run from the repository root: python bench/input_bounds.py (make bench runs it; the database is not used,
so the PostgreSQL run is skipped with exit 77).
"""
import json
import os
import statistics
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from privacy_saas.inputs import load_json  # noqa: E402

REPEAT = 7
#: Bodies as clients send them: a SCIM create, a SCIM PATCH, a users API create, and the largest a
#: users API body may be (64 KiB of entries), one with escapes that make the strings walked.
SCIM_CREATE = json.dumps({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada.lovelace@example.com",
    "externalId": "00u1a2b3c4d5e6f7g8h9", "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "displayName": "Ada Lovelace", "active": True,
    "emails": [{"value": "ada.lovelace@example.com", "type": "work", "primary": True}]}).encode()
SCIM_PATCH = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
    {"op": "replace", "path": "active", "value": False},
    {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@example.com"},
    {"op": "replace", "value": {"name.givenName": "Ada", "displayName": "Ada L."}}]}).encode()
USERS_CREATE = json.dumps({"email": "ada@example.com", "display_name": "Ada Lovelace", "role": "member"}).encode()
LARGE = json.dumps([{"email": f"user{n}@example.com", "display_name": f"User {n}", "n": n}
                    for n in range(900)]).encode()[:60_000].rsplit(b"},", 1)[0] + b"}]"
ESCAPED = json.dumps([{"display_name": "Zoë 😀 Ünicode", "n": n} for n in range(600)]).encode()


def timed_us(func, body: bytes, number: int) -> list[float]:
    return [t / number * 1e6 for t in timeit.repeat(lambda: func(body), number=number, repeat=REPEAT)]


def main() -> None:
    if os.environ.get("PRIVACY_SAAS_BENCH_DB") == "postgres":
        sys.exit(77)  # no database involved: one run is enough
    print(f"{'body':<28} {'bytes':>7}  {'json.loads us (min/median)':>27}  {'load_json us (min/median)':>26}  ratio")
    for label, body, number in (("SCIM create", SCIM_CREATE, 20_000), ("SCIM PATCH", SCIM_PATCH, 20_000),
                                ("users API create", USERS_CREATE, 20_000), ("64 KiB list", LARGE, 100),
                                ("escaped non-ASCII list", ESCAPED, 100)):
        plain, bounded = timed_us(json.loads, body, number), timed_us(load_json, body, number)
        print(f"{label:<28} {len(body):>7}  {min(plain):>12.1f} / {statistics.median(plain):>10.1f}  "
              f"{min(bounded):>12.1f} / {statistics.median(bounded):>10.1f}  "
              f"{statistics.median(bounded) / statistics.median(plain):4.2f}x")


if __name__ == "__main__":
    main()

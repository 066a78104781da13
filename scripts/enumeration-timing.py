#!/usr/bin/env python3
"""Security bar A6: does a password or PIN login tell a known address from an unknown one?

Against a running development server (standard library only), it creates accounts with a
password and a PIN, then alternates wrong-password (or wrong-PIN) logins for known and unknown
addresses, and compares the answers (status and body must be identical) and their latency
(median difference, the bar asks < 5 ms over 1 000 requests each).

The server must trust this client's forwarding header (so each request can come from its own
client address and no per-client budget is spent) and use a file clock (the script moves it an
hour on between rounds, so no per-address budget is spent either):

    mkdir -p /tmp/a6 && echo 1767225600000 > /tmp/a6/clock
    TANDEM_TRUSTED_PROXIES=127.0.0.1/32 TANDEM_CLOCK=file:/tmp/a6/clock \\
      tandem serve --data-dir /tmp/a6/data --listen 127.0.0.1:18081 &
    python3 scripts/enumeration-timing.py --url http://127.0.0.1:18081 \\
      --outbox /tmp/a6/data/dev-outbox.jsonl --clock /tmp/a6/clock --kind password -n 1000
"""

import argparse
import json
import os
import secrets
import statistics
import time
import urllib.error
import urllib.request


def call(url, method, path, body=None, token=None, client=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    if client:
        req.add_header("x-forwarded-for", client)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    elapsed = time.perf_counter() - started
    return status, (json.loads(raw) if raw else None), elapsed


def outbox_code(path, email):
    for _ in range(200):
        with open(path) as f:
            codes = [json.loads(l) for l in f if l.strip()]
        codes = [c["code"] for c in codes if c.get("to") == email and "code" in c]
        if codes:
            return codes[-1]
        time.sleep(0.02)
    raise SystemExit(f"no code for {email} in {path}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--outbox", required=True)
    p.add_argument("--clock", required=True)
    p.add_argument("--kind", choices=["password", "pin"], default="password")
    p.add_argument("-n", type=int, default=1000, help="requests per side")
    p.add_argument("--accounts", type=int, default=20)
    a = p.parse_args()

    with open(a.clock) as f:
        now = int(f.read().strip())
    secret = "correct horse battery staple number 7" if a.kind == "password" else "2580"
    wrong = "wrong horse battery staple number 7" if a.kind == "password" else "1357"
    known = []
    for i in range(a.accounts):
        email = f"a6-{secrets.token_hex(4)}@example.test"
        client = f"10.1.{i // 250}.{i % 250 + 1}"
        s, b, _ = call(a.url, "POST", "/v1/auth/email/start", {"email": email}, client=client)
        assert s == 200, b
        code = outbox_code(a.outbox, email)
        s, b, _ = call(a.url, "POST", "/v1/auth/email/verify",
                       {"attempt_id": b["attempt_id"], "code": code}, client=client)
        assert s == 200, b
        s, b, _ = call(a.url, "PUT", f"/v1/account/{a.kind}", {a.kind: secret}, token=b["token"],
                       client=client)
        assert s == 204, b
        known.append(email)

    path = f"/v1/auth/{a.kind}/login"
    times = {"known": [], "unknown": []}
    bodies = {"known": set(), "unknown": set()}
    per_round = max(1, a.accounts)  # one guess per known account per simulated hour
    done = 0
    while done < a.n:
        now += 3_700_000
        with open(a.clock + ".tmp", "w") as f:
            f.write(str(now))
        os.replace(a.clock + ".tmp", a.clock)
        for i in range(min(per_round, a.n - done)):
            for side in (["known", "unknown"] if (done + i) % 2 == 0 else ["unknown", "known"]):
                email = known[i % len(known)] if side == "known" else \
                    f"a6-{secrets.token_hex(4)}@example.test"
                client = f"10.{2 + (done + i) // 60000}.{(done + i) // 250 % 240}.{(done + i) % 250 + 1}"
                s, b, t = call(a.url, "POST", path, {"email": email, a.kind: wrong}, client=client)
                times[side].append(t)
                bodies[side].add((s, json.dumps(b, sort_keys=True)))
        done += min(per_round, a.n - done)

    mk, mu = statistics.median(times["known"]), statistics.median(times["unknown"])
    print(json.dumps({
        "kind": a.kind,
        "requests_per_side": len(times["known"]),
        "median_known_ms": round(mk * 1000, 3),
        "median_unknown_ms": round(mu * 1000, 3),
        "median_difference_ms": round(abs(mk - mu) * 1000, 3),
        "bodies_identical": bodies["known"] == bodies["unknown"] and len(bodies["known"]) == 1,
        "answers": sorted(bodies["known"] | bodies["unknown"]),
    }, indent=2))


if __name__ == "__main__":
    main()

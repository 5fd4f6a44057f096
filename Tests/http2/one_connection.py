"""Submit -> idempotent resubmit -> long poll -> result -> problem+json, all on ONE HTTP/2 connection (httpx, h2c prior knowledge).
Needs a Celeriac API and a worker on the same Redis; exits non-zero on any mismatch."""
import sys, uuid

import httpx

base = sys.argv[1]
key = "h2-" + uuid.uuid4().hex
connections = set()
with httpx.Client(http2=True, http1=False, base_url=base, timeout=15) as c:
    r = c.post("/tasks", json={"task": "celery_example_2.add", "args": [2, 3]}, headers={"Idempotency-Key": key})
    assert r.http_version == "HTTP/2" and r.status_code == 202, (r.http_version, r.status_code, r.text)
    r2 = c.post("/tasks", json={"task": "celery_example_2.add", "args": [2, 3]}, headers={"Idempotency-Key": key})
    assert r2.json()["id"] == r.json()["id"], "Idempotency-Key over HTTP/2"
    p = c.get(f"/tasks/{r.json()['id']}", params={"wait": "10"})
    assert p.status_code == 200 and p.json().get("state") == "SUCCESS" and p.json().get("result") == 5, p.text
    bad = c.post("/tasks", content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json"), bad.text
    pool = c._transport._pool
    assert len(pool.connections) == 1, f"{len(pool.connections)} connections"
print("httpx http2: submit, idempotent resubmit, long poll, result, problem+json on one connection: ok")

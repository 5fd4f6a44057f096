"""The dashboard in headless Chromium against the real API, worker and Redis (issue 9, item 3)."""
import json
import time

from selenium.webdriver.common.by import By

from conftest import ADMIN, READER, SHOTS, wait_for


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(driver, selector):
    found = css(driver, selector)
    return found[0].text if found else None


def login(driver, stack, token, name):
    driver.get(stack.base + "/#/login")
    field = wait_for(lambda: css(driver, "#token"), 10, "the login form")[0]
    field.clear()
    field.send_keys(token)
    css(driver, "#login-form button[type=submit]")[0].click()
    wait_for(lambda: name in (text_of(driver, "#who") or ""), 10, f"the page to show the user {name}")


def goto(driver, stack, route, ready_selector):
    driver.get(stack.base + "/#/" + route)
    return wait_for(lambda: css(driver, ready_selector), 15, f"{ready_selector} on #/{route}")


def fits_a_phone(driver, screenshot):
    """The page at 390 CSS px (a phone; headless windows cannot be that narrow, so the DevTools protocol
    emulates it) needs no sideways scrolling: wide tables scroll inside their own box."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        wait_for(lambda: driver.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
                 5, "the page to fit a phone's width without scrolling sideways")
        driver.save_screenshot(str(SHOTS / screenshot))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_aLoggedOutPage_asksForAToken_andRefusesAWrongOne(page, stack):
    wait_for(lambda: css(page, "#token"), 10, "the login form")
    css(page, "#token")[0].send_keys("not-a-real-token-at-all-0000")
    css(page, "#login-form button[type=submit]")[0].click()
    wait_for(lambda: "not accepted" in (text_of(page, "#login-error") or ""), 10, "the refusal")
    assert page.execute_script("return sessionStorage.getItem('celeriac.token')") is None
    assert page.get_cookies() == [], "the token must never be a cookie"


def test_overview_listsTheRunningWorker_andTheQueues(page, stack):
    login(page, stack, ADMIN, "ops")
    goto(page, stack, "", "#worker-table")
    row = wait_for(lambda: [r for r in css(page, "#worker-table tr[data-worker]")
                            if r.get_attribute("data-worker") == stack.worker_name], 10, "the worker's row")[0]
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1] == "2", f"concurrency shown as {cells[1]!r}"
    assert "ago" in cells[-1], f"last heartbeat shown as {cells[-1]!r}"
    assert css(page, "#queue-table tr[data-queue='celery']"), "the celery queue is listed"
    for card in ("#total-waiting", "#total-held", "#total-scheduled", "#total-dead"):
        assert css(page, card), f"{card} is shown"
    wait_for(lambda: css(page, "#chart-succeeded") and css(page, "#chart-failed"), 10, "the throughput charts")
    page.save_screenshot(str(SHOTS / "overview-1280.png"))
    fits_a_phone(page, "overview-phone.png")


def test_aSubmittedTask_appearsInTheList_withinASecond_withoutAReload(page, stack):
    login(page, stack, ADMIN, "ops")
    goto(page, stack, "tasks", "#task-table, #no-tasks")
    wait_for(lambda: "live" == text_of(page, "#live"), 10, "the live feed (GET /events) to connect")
    page.execute_script("window.__notReloaded = true")
    task_id = stack.submit("celery_example_2.add", [20, 22])
    submitted = time.monotonic()
    wait_for(lambda: css(page, f"tr[data-task-id='{task_id}']"), 1.0, "the new task's row within 1 s of its submission")
    elapsed = time.monotonic() - submitted
    assert page.execute_script("return window.__notReloaded === true"), "the page reloaded"
    print(f"new task shown {elapsed * 1000:.0f} ms after its submission")
    wait_for(lambda: css(page, f"tr[data-task-id='{task_id}'][data-state='SUCCESS']"), 10, "the row to turn SUCCESS")


def test_theTaskListFilters_byState(page, stack):
    ok = stack.submit("celery_example_2.add", [1, 1])
    bad = stack.submit("celery_example_2.add", ["a", 1])
    stack.wait_state(ok, {"SUCCESS"})
    stack.wait_state(bad, {"FAILURE"})
    login(page, stack, ADMIN, "ops")
    goto(page, stack, "tasks?state=FAILURE", "#task-table")
    ids = {r.get_attribute("data-task-id") for r in css(page, "#task-table tr[data-task-id]")}
    assert bad in ids and ok not in ids, ids
    assert {r.get_attribute("data-state") for r in css(page, "#task-table tr[data-task-id]")} == {"FAILURE"}


def test_cursorPaging_walksOlderAndBackToNewer(page, stack):
    queue = f"paging-{time.time_ns()}"  # no worker consumes it; no other test uses it
    ids = [stack.submit("celery_example_2.add", [i, i], queue=queue) for i in range(5)]
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks?queue={queue}&limit=2", "#task-table")
    shown = lambda: [r.get_attribute("data-task-id") for r in css(page, "#task-table tr[data-task-id]")]
    first = shown()
    assert len(first) == 2 and set(first) <= set(ids), first
    css(page, "#page-older")[0].click()
    second = wait_for(lambda: (rows := shown()) and rows != first and rows, 10, "the second page")
    assert len(second) == 2 and set(second) <= set(ids) and not set(second) & set(first), (first, second)
    css(page, "#page-newer")[0].click()
    wait_for(lambda: shown() == first, 10, "the first page again")


def test_theTaskPage_showsItsResult_andTimeline(page, stack):
    task_id = stack.submit("celery_example_2.add", [4, 5])
    stack.wait_state(task_id, {"SUCCESS"})
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks/{task_id}", "#task-result")
    assert text_of(page, "#task-result") == "9"
    assert text_of(page, "#task-args") == "(4, 5)", "args as Celery's argsrepr"
    steps = {li.get_attribute("data-step"): li.get_attribute("class") for li in css(page, "#task-timeline li")}
    assert set(steps) == {"submitted", "received", "started", "finished"}
    assert steps["finished"] != "missing" and steps["submitted"] != "missing", steps
    assert stack.worker_name in text_of(page, "#task-worker")
    fits_a_phone(page, "task-phone.png")
    goto(page, stack, "tasks", f"tr[data-task-id='{task_id}']")
    fits_a_phone(page, "tasks-phone.png")


def test_aFailedTask_showsItsTraceback(page, stack):
    task_id = stack.submit("celery_example_2.add", ["a", 1])
    stack.wait_state(task_id, {"FAILURE"})
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks/{task_id}", "#task-traceback")
    assert "TypeError" in text_of(page, "#task-error")
    assert "Traceback" in text_of(page, "#task-traceback") or "TypeError" in text_of(page, "#task-traceback")
    assert not css(page, "#task-result")


def test_revoke_fromTheTaskPage_revokesAQueuedTask(page, stack):
    task_id = stack.submit("celery_example_2.add", [1, 2], queue="parked")  # no worker consumes it
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks/{task_id}", "#task-timeline")
    wait_for(lambda: css(page, "button[data-action='revoke']"), 10, "the revoke button")[0].click()
    stack.wait_state(task_id, {"REVOKED"}, timeout=10)
    wait_for(lambda: css(page, ".state.REVOKED"), 10, "the page to show REVOKED")
    assert not css(page, "button[data-action='revoke']"), "a revoked task offers no revoke"


def test_requeue_ofADeadLetter_putsItBackOnItsQueue(page, stack):
    entry_id = f"dl-{time.time_ns()}"
    message = json.dumps({"body": "not base64 at all", "headers": {}, "properties": {}})
    entry = {"id": entry_id, "task_id": None, "task": "celery_example_2.add", "queue": "requeue-target",
             "field": "body", "reason": "the body is not base64", "worker": "test", "at": "2026-01-01T00:00:00Z",
             "message": message}
    stack.redis("LPUSH", "celeriac:dead", json.dumps(entry))
    login(page, stack, ADMIN, "ops")
    goto(page, stack, "dead-letters", f"tr[data-dead-letter-id='{entry_id}']")
    css(page, f"tr[data-dead-letter-id='{entry_id}'] button[data-action='requeue']")[0].click()
    wait_for(lambda: not css(page, f"tr[data-dead-letter-id='{entry_id}']"), 10, "the requeued row to go")
    wait_for(lambda: "Requeued" in (text_of(page, ".flash") or ""), 5, "the confirmation")
    assert stack.redis("LRANGE", "requeue-target", "0", "-1") == message


def test_argsWithAScriptTag_renderAsText(page, stack):
    evil = ["<script>window.__pwned = 1</script>", "<img src=x onerror=\"window.__pwned = 2\">"]
    task_id = stack.submit("celery_example_2.add", evil, queue="parked")
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks/{task_id}", "#task-args")
    shown = text_of(page, "#task-args")
    assert "<script>window.__pwned = 1</script>" in shown and "<img src=x" in shown, shown
    assert not page.find_elements(By.CSS_SELECTOR, "main script, main img"), "markup from the args became elements"
    goto(page, stack, "tasks", f"tr[data-task-id='{task_id}']")
    assert page.execute_script("return window.__pwned === undefined"), "a script from the args ran"


def test_aReadOnlyToken_seesNoActionButtons(page, stack):
    queued = stack.submit("celery_example_2.add", [3, 4], queue="parked")
    status, group = stack.call("POST", "/groups", {"tasks": [{"task": "celery_example_2.add", "args": [1, 2], "queue": "parked"}]})
    assert status == 202, group
    entry = {"id": f"dl-ro-{time.time_ns()}", "queue": "parked", "field": "body", "reason": "test", "worker": "test",
             "at": "2026-01-01T00:00:00Z", "message": "{}"}
    stack.redis("LPUSH", "celeriac:dead", json.dumps(entry))
    # The admin sees the buttons on the same pages...
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"tasks/{queued}", "button[data-action='revoke']")
    goto(page, stack, "dead-letters", "button[data-action='requeue']")
    # ...the read-only token sees none of them.
    login(page, stack, READER, "viewer")
    for route, ready in ((f"tasks/{queued}", "#task-timeline"), (f"groups/{group['id']}", "#group-table"),
                         ("dead-letters", f"tr[data-dead-letter-id='{entry['id']}']"), ("", "#worker-table"),
                         ("tasks", f"tr[data-task-id='{queued}']")):
        goto(page, stack, route, ready)
        buttons = [b.text for b in css(page, "main button.action, main [data-action]")]
        assert buttons == [], f"#/{route} shows {buttons} to a read-only token"
    page.save_screenshot(str(SHOTS / "read-only-tasks.png"))


def test_theGroupPage_showsItsMembers(page, stack):
    status, group = stack.call("POST", "/groups", {"tasks": [{"task": "celery_example_2.add", "args": [i, i]} for i in range(3)]})
    assert status == 202, group
    login(page, stack, ADMIN, "ops")
    goto(page, stack, f"groups/{group['id']}", "#group-table")
    wait_for(lambda: len(css(page, "#group-table .state.SUCCESS")) == 3, 15, "three SUCCESS members")
    ids = [r.get_attribute("data-task-id") for r in css(page, "#group-table tr[data-task-id]")]
    assert ids == [t["id"] for t in group["tasks"]]

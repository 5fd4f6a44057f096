-- wrk script: every request is one POST of a small JSON body. BODY and CONTENT_TYPE come from the
-- environment so one script drives both APIs (ours takes {"task", "args"}; Flower's async-apply takes
-- {"args"} with the task name in the path).
wrk.method = "POST"
wrk.body = os.getenv("BODY") or '{"task":"celery_example_2.add","args":[1,2]}'
wrk.headers["Content-Type"] = "application/json"

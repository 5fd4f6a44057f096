"""`celery_example.fetch_url(url)`: an HTTP GET that returns the status code, as the seed's task does."""
import urllib.error
import urllib.request

from celery_example_2 import app


@app.task(name="celery_example.fetch_url")
def fetch_url(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

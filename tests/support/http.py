"""A tiny JSON-over-HTTP client for tests against a live server (urllib: nothing of ours in between)."""
import json
import urllib.error
import urllib.request


def http(method, url, body=None, timeout=30):
    """-> (status, parsed JSON body); (None, None) when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"raw": raw[:200].decode(errors="replace")}
    except urllib.error.URLError:
        return None, None


def post_json(url, body, timeout=30):
    return http("POST", url, body, timeout)


def get_json(url, timeout=30):
    return http("GET", url, None, timeout)

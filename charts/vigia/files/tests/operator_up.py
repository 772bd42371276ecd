"""helm test: the operator answers its liveness probe through its Service.

Run in the cluster by the chart's test hook (tests/operator-up.yaml); outside it, set
VIGIA_TEST_OPERATOR_URL to reach an operator process directly.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError as error:
        print(f"not yet: {url}: {error}", flush=True)
        return False


def main() -> int:
    url = os.environ["VIGIA_TEST_OPERATOR_URL"]
    deadline = time.monotonic() + float(os.environ.get("VIGIA_TEST_TIMEOUT_SECONDS", "120"))
    while time.monotonic() < deadline:
        if healthy(url):
            print(f"operator up: {url} answered 200", flush=True)
            return 0
        time.sleep(2)
    print(f"FAIL: the operator did not answer {url} in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

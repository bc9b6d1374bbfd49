"""Run a command with object storage configured: a local S3-compatible server (moto's
standalone server, from requirements-dev) on a free loopback port, and the settings that
point the project's default storage at a bucket on it. The server is stopped afterwards,
and the command's exit status is this script's.

    python scripts/with_s3.py .venv/bin/python -m pytest threads/tests/test_attachments.py

`make test-s3` runs the attachment tests this way (CI too). S3_PORT picks the port.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.liveserver import free_port, stop  # noqa: E402

BUCKET = "chat-attachments-test"


def wait_until_answering(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The S3 server stopped at once:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The S3 server did not answer within 30 s:\n{log.read_text()[-2000:]}")


def main() -> int:
    command = sys.argv[1:]
    if not command:
        raise SystemExit(__doc__)
    port = int(os.environ.get("S3_PORT") or free_port())
    endpoint = f"http://127.0.0.1:{port}"
    moto_server = Path(sys.executable).with_name("moto_server")
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "s3.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_answering(server, endpoint, log)
            print(f"S3-compatible server (moto) on {endpoint}, bucket {BUCKET}", flush=True)
            env = {
                **os.environ,
                "AWS_STORAGE_BUCKET_NAME": BUCKET,
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_S3_REGION_NAME": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            stop(server)


if __name__ == "__main__":
    sys.exit(main())

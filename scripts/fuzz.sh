#!/usr/bin/env bash
# Fuzz the live API with Schemathesis, from the committed schema (docs/openapi.yaml), the
# way a client nobody here wrote would call it: a real server on loopback, production
# settings (debug off), a real user's bearer token, every operation.
#
# Passes when no response is a 5xx or disagrees with the schema (status code, content
# type, headers, body). Bounded: FUZZ_MAX_EXAMPLES cases per operation (default 30).
# Reproducible: FUZZ_SEED (default 1). Usage: make fuzz, or scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PORT=${FUZZ_PORT:-8765}
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export DJANGO_SETTINGS_MODULE=chat_project.settings
export DJANGO_DEBUG=0
DJANGO_SECRET_KEY="fuzz-$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
export DJANGO_SECRET_KEY
export DJANGO_SECURE_SSL_REDIRECT=0
export DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3"
export DJANGO_MEDIA_ROOT="$WORK/media"
# The fuzzer is one client sending thousands of requests: rate limits would answer most of
# them 429 and hide everything behind.
export THROTTLE_AUTH_RATE=1000000/minute THROTTLE_MESSAGE_POST_RATE=1000000/minute
export THROTTLE_WRITE_RATE=1000000/minute
export DJANGO_LOG_LEVEL=ERROR

$PY manage.py migrate -v0
# Users 1-3, threads 1-2, messages 1-3 and attachments 1-3: the ids
# scripts/schemathesis.toml points at.
TOKEN=$($PY manage.py shell --no-imports -c '
import io
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework_simplejwt.tokens import RefreshToken
from threads.services import attachment_upload, message_send, thread_get_or_create
User = get_user_model()
fuzzer = User.objects.create_user("fuzzer", password="fuzzer-password-1")
friend = User.objects.create_user("friend", password="friend-password-1")
other = User.objects.create_user("other", password="other-password-1")
thread, _ = thread_get_or_create(requester=fuzzer, other=friend)  # id 1
for i in range(3):  # message ids 1-3, from both sides
    message_send(thread_id=thread.pk, sender=(fuzzer, friend)[i % 2], text=f"hello {i}")
png = io.BytesIO()
Image.new("RGB", (40, 30), "teal").save(png, format="PNG")
for name, content in [("a.png", png.getvalue()), ("b.txt", b"notes"), ("c.png", png.getvalue())]:
    upload = SimpleUploadedFile(name, content)  # attachment ids 1-3
    attachment_upload(thread_id=thread.pk, uploader=fuzzer, upload=upload)
message_send(thread_id=thread.pk, sender=fuzzer, text="files", attachment_ids=[3])
thread_get_or_create(requester=fuzzer, other=other)  # id 2, for the delete operation
print(RefreshToken.for_user(fuzzer).access_token)
')

# The production server, as deployed (`make serve`), with two workers.
GUNICORN_BIND="127.0.0.1:$PORT" WEB_CONCURRENCY=2 .venv/bin/gunicorn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do
  $PY -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
  sleep 0.2
done

status=0
.venv/bin/schemathesis --config-file scripts/schemathesis.toml run docs/openapi.yaml \
  --url "http://127.0.0.1:$PORT" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${FUZZ_MAX_EXAMPLES:-30}" \
  --seed "${FUZZ_SEED:-1}" \
  --workers 2 \
  --request-timeout 20 \
  --report junit --report-dir "${FUZZ_REPORT_DIR:-$WORK/report}" || status=$?

if grep -q "Traceback" "$WORK/server.log"; then
  echo "The server logged tracebacks during the run:" >&2
  grep -B2 -A20 "Traceback" "$WORK/server.log" | head -80 >&2
  status=1
fi
exit $status

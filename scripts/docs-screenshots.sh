#!/usr/bin/env bash
# Screenshots of the built docs site (make docs first) with headless Chromium, one PNG per
# page into site-shots/, to look at how the pages render. Needs chromium (Debian: apt-get
# install chromium); serves site/ on a local port for the time of the screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "needs chromium (apt-get install -y chromium)" >&2; exit 2; }
[ -f site/index.html ] || { echo "no site/: run make docs first" >&2; exit 2; }
out=site-shots
mkdir -p "$out"
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory site >/dev/null 2>&1 &
server=$!
trap 'kill "$server"' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.1
done
pages=${PAGES:-"index getting-started api reference/http models configuration deploy/kubernetes training operations performance"}
for page in $pages; do
  path=$([ "$page" = index ] && echo "" || echo "$page/")
  name=$(echo "$page" | tr / -)
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1600 \
    --screenshot="$out/$name.png" "http://127.0.0.1:$port/$path" >/dev/null 2>&1
  echo "$out/$name.png"
done

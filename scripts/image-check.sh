#!/usr/bin/env bash
# Builds the repo's Dockerfile with podman, runs the image and checks it for real:
#   bash scripts/image-check.sh
# No container registry is needed: the two base images are made here (debian:bookworm-slim by
# debootstrap, oven/bun:<version> from it plus npm's bun binary) and kept, with podman's storage,
# in $WEBHOOKD_IMAGE_CACHE (default /var/cache/webhookd-image-check), so a second run is fast.
# Needs root (rootful podman, apt-get). Prints one PASS/FAIL line per check, exits 1 on any FAIL.
set -uo pipefail
cd "$(dirname "$0")/.."

IMAGE=localhost/webhookd:image-check
NAME=webhookd-check-$$
CHECK=image-check
work=$(mktemp -d)
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh
cleanup() {
  podman rm -f -i -v -t 0 "$NAME-1" "$NAME-2" "$NAME-ro" >/dev/null 2>&1 # -i: one missing name would keep the others
  podman volume rm -f "$NAME" >/dev/null 2>&1
  # An interrupted build leaves its working containers in storage only (a copy of the image each).
  podman ps -a --external --format '{{.ID}} {{.Status}}' | awk '$2 == "Storage" { print $1 }' | xargs -r podman rm -f --storage >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

podman_setup podman runc debootstrap curl
podman_base_images

# --format docker: the OCI format has no HEALTHCHECK. Host network: the only network here.
say "building $IMAGE from ./Dockerfile"
build_started=$SECONDS
podman build --format docker --network host --pull=never -t "$IMAGE" . >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log"; die "podman build failed (log above)"; }
podman image prune -f >/dev/null 2>&1 # the previous build's image, now untagged
say "built in $((SECONDS - build_started))s"

port=$(bun -e 'const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() }); console.log(s.port); s.stop(true)') ||
  die "could not find a free port"
base=http://127.0.0.1:$port
podman volume create "$NAME" >/dev/null || die "podman volume create failed"
# Podman logs an error for each container with a HEALTHCHECK when systemd (its timer) is absent,
# as here; the checks run it by hand, so those lines go to a log, shown if podman run fails.
start() { # name, /data source: the image on loopback only
  podman run -d --name "$1" --network host -e WEBHOOKD_HOST=127.0.0.1 -e "WEBHOOKD_PORT=$port" -v "$2:/data" "$IMAGE" >/dev/null 2>>"$work/podman.log" ||
    { cat "$work/podman.log"; die "podman run failed"; }
}
healthz() { # waits up to 30 s for GET /healthz to answer 200
  for _ in $(seq 60); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] && return 0
    sleep 0.5
  done
  return 1
}
banner="Generated the admin API key"

start "$NAME-1" "$NAME"
if healthz; then pass "GET /healthz answers 200"; else fail "GET /healthz never answered 200 (logs: $(podman logs "$NAME-1" 2>&1 | tail -3))"; fi

logs=$(podman logs "$NAME-1" 2>&1)
admin=$(grep -Eo 'sk_admin_[0-9A-Za-z]+' <<<"$logs" | head -1)
if [ "$(grep -c "$banner" <<<"$logs")" = 1 ] && [ -n "$admin" ]; then
  pass "first start prints the generated admin key once"
else
  fail "first start did not print the admin key once"
fi

pid=$(podman inspect -f '{{.State.Pid}}' "$NAME-1")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
if [ "$uid" = 10001 ]; then pass "webhookd runs as uid 10001, not root"; else fail "webhookd runs as uid '${uid}', not 10001"; fi

if podman healthcheck run "$NAME-1" >/dev/null 2>>"$work/podman.log" && [ "$(podman inspect -f '{{.State.Healthcheck.Status}}' "$NAME-1")" = healthy ]; then
  pass "the image's HEALTHCHECK runs and reports healthy"
else
  fail "the image's HEALTHCHECK did not report healthy ($(podman inspect -f '{{json .State.Healthcheck}}' "$NAME-1" 2>&1 | head -c 300))"
fi

org=$(curl -s -X POST "$base/api/v1/orgs" -H "X-API-Key: $admin" -H 'Content-Type: application/json' -d '{"name":"image-check"}' |
  grep -Eo '"id":"org_[0-9A-Z]+"' | head -1 | cut -d'"' -f4)
[ -n "$org" ] || fail "could not create an org with the generated admin key"

# A new container on the same volume: the data, the admin key and the org are still there.
podman stop -t 10 "$NAME-1" >/dev/null 2>>"$work/podman.log" && podman rm "$NAME-1" >/dev/null 2>>"$work/podman.log" || fail "podman stop + rm of the first container failed"
start "$NAME-2" "$NAME"
if healthz; then
  if [ -n "$org" ] && curl -s "$base/api/v1/orgs" -H "X-API-Key: $admin" | grep -q "\"$org\""; then
    pass "/data survives podman rm: the org made before is listed by a new container"
  else
    fail "the org made before podman rm is not listed by the new container"
  fi
  if podman logs "$NAME-2" 2>&1 | grep -q "$banner"; then fail "the second start printed an admin key again"; else pass "the second start prints no admin key"; fi
else
  fail "the second container never answered /healthz (logs: $(podman logs "$NAME-2" 2>&1 | tail -3))"
fi
podman rm -f -t 10 "$NAME-2" >/dev/null 2>>"$work/podman.log"

# A bind-mounted /data owned by root and not writable by uid 10001: one line that says what to fix.
mkdir -m 755 "$work/root-owned"
start "$NAME-ro" "$work/root-owned"
code=$(podman wait "$NAME-ro")
out=$(podman logs "$NAME-ro" 2>&1)
if [ "$code" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "not writable by uid 10001.*chown -R 10001 /data" <<<"$out"; then
  pass "a root-owned bind-mounted /data: exit 2, one line: $out"
else
  fail "a root-owned bind-mounted /data: exit $code, output: $(head -c 500 <<<"$out")"
fi

summary

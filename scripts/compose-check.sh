#!/usr/bin/env bash
# Runs compose.cluster.yml for real (PostgreSQL and three webhookd nodes) with podman-compose and
# checks the cluster it makes:
#   bash scripts/compose-check.sh
# The webhookd image is built from ./Dockerfile (cached layers: seconds after scripts/image-check.sh);
# postgres:15 is a stand-in built from Debian's PostgreSQL 15 (scripts/postgres-standin/) when no
# such image is present. An override file adds only what the check itself needs: private http
# targets (its receiver runs on this host). Needs root. One PASS/FAIL line per check.
set -uo pipefail
cd "$(dirname "$0")/.."

PROJECT=webhookd-compose-check
NODES=(8081 8082 8083)
CHECK=compose-check
work=$(mktemp -d)
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh
receiver_pid=
compose() { podman-compose -p "$PROJECT" -f compose.cluster.yml -f "$work/check.yml" "$@" >>"$work/compose.log" 2>&1; }
cleanup() {
  compose down -v
  podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# dnsname: compose's service names (postgres) resolve only with podman's DNS plugin.
podman_setup podman runc debootstrap curl podman-compose
[ -x /usr/lib/cni/dnsname ] || podman_setup golang-github-containernetworking-plugin-dnsname
[ -x /usr/lib/cni/dnsname ] || die "the dnsname CNI plugin is missing (apt-get install golang-github-containernetworking-plugin-dnsname)"
podman_base_images
if ! podman image exists docker.io/library/postgres:15; then
  say "making a postgres:15 stand-in from Debian's PostgreSQL 15"
  podman build --quiet --network host --pull=never -t docker.io/library/postgres:15 scripts/postgres-standin >/dev/null ||
    die "building the postgres:15 stand-in failed"
fi
say "building the webhookd image from ./Dockerfile"
podman build --format docker --network host --pull=never -t localhost/webhookd:compose-check . >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log"; die "podman build failed (log above)"; }
# The names podman-compose gives the images of `build: .` services: present, so it builds nothing.
for n in 1 2 3; do podman tag localhost/webhookd:compose-check "${PROJECT}_webhookd-$n" || die "podman tag failed"; done

# A receiver on this host, reached from the containers as host.containers.internal.
port=$(bun -e 'const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() }); console.log(s.port); s.stop(true)') ||
  die "could not find a free port"
bun -e '
  Bun.serve({ hostname: "0.0.0.0", port: Number(process.argv[1]), async fetch(req) {
    const body = await req.text();
    if (req.headers.get("webhook-id")) console.log(req.headers.get("webhook-id"));
    return new Response("ok");
  } });' "$port" >"$work/received" 2>&1 &
receiver_pid=$!
cat >"$work/check.yml" <<YAML
x-check: &check
  environment:
    WEBHOOKD_ALLOW_HTTP: "true"
    WEBHOOKD_ALLOW_PRIVATE_TARGETS: "true"
services:
  webhookd-1: *check
  webhookd-2: *check
  webhookd-3: *check
YAML

export WEBHOOKD_MASTER_KEY POSTGRES_PASSWORD
WEBHOOKD_MASTER_KEY=$(openssl rand -hex 32)
POSTGRES_PASSWORD=$(openssl rand -hex 16)
unset WEBHOOKD_ADMIN_KEY

ready() { # waits up to 90 s for every node's /readyz to answer 200
  local p
  for _ in $(seq 180); do
    local all=1
    for p in "${NODES[@]}"; do [ "$(curl -s -o /dev/null -w '%{http_code}' "localhost:$p/readyz")" = 200 ] || all=0; done
    [ $all = 1 ] && return 0
    sleep 0.5
  done
  return 1
}
api() { # method, node port, path, [body]: prints the body, then the status on its own line
  curl -s -X "$1" "localhost:$2$3" -H "X-API-Key: $key" -H 'Content-Type: application/json' ${4:+-d "$4"} -w '\n%{http_code}'
}
field() { grep -Eo "\"$1\":\"[^\"]+\"" | head -1 | cut -d'"' -f4; }
node_logs() { local n; for n in 1 2 3; do podman logs "${PROJECT}_webhookd-${n}_1" 2>&1; done; }

say "podman-compose up"
compose up -d || { tail -20 "$work/compose.log"; die "podman-compose up failed"; }
if ready; then pass "PostgreSQL and three nodes up: /readyz 200 on ${NODES[*]}"; else fail "not every node became ready ($(node_logs | tail -3))"; fi

banners=$(node_logs | grep -c "Generated the admin API key")
key=$(node_logs | grep -Eo 'sk_admin_[0-9A-Za-z]+' | head -1)
if [ "$banners" = 1 ] && [ -n "$key" ]; then pass "one admin key printed, by one node of three"; else fail "admin key banners: $banners"; fi

org=$(api POST "${NODES[0]}" /api/v1/orgs '{"name":"compose-check"}' | field id)
key=$(api POST "${NODES[0]}" "/api/v1/orgs/$org/keys" '{"scopes":["webhooks:read","webhooks:write","events:write"]}' | field key)
endpoint=$(api POST "${NODES[1]}" /api/v1/webhooks "{\"url\":\"http://host.containers.internal:$port/hook\"}" | field id)
if [ -n "$org" ] && [ -n "$key" ] && [ -n "$endpoint" ]; then
  pass "an org and its key made on :${NODES[0]}, its endpoint on :${NODES[1]} (probed through the network)"
else
  fail "org '$org', key '${key:0:12}', endpoint '$endpoint'"
fi

published=$(api POST "${NODES[2]}" /api/v1/events '{"event":"call.ended","data":{"n":1}}')
event=$(field id <<<"$published")
for _ in $(seq 40); do grep -q "$event" "$work/received" 2>/dev/null && break; sleep 0.5; done
if [ -n "$event" ] && grep -q "$event" "$work/received"; then
  pass "an event published on :${NODES[2]} reaches the endpoint made on :${NODES[1]}"
else
  fail "event '$event' not received ($(tail -1 <<<"$published"))"
fi

# A node dies: the others go on.
podman kill "${PROJECT}_webhookd-3_1" >/dev/null 2>&1
published=$(api POST "${NODES[0]}" /api/v1/events '{"event":"call.ended","data":{"n":2}}')
event=$(field id <<<"$published")
for _ in $(seq 40); do grep -q "$event" "$work/received" 2>/dev/null && break; sleep 0.5; done
if [ -n "$event" ] && grep -q "$event" "$work/received"; then pass "with a node killed, an event published on another is delivered"; else fail "event '$event' not received after a kill"; fi

# down and up again: PostgreSQL's volume keeps everything; no node prints a new admin key.
compose down
compose up -d || { tail -20 "$work/compose.log"; die "podman-compose up (second) failed"; }
if ready; then
  if api GET "${NODES[2]}" /api/v1/webhooks | grep -q "\"$endpoint\""; then pass "after down and up, the endpoint is still there (PostgreSQL's volume)"; else fail "the endpoint is gone after down and up"; fi
  if node_logs | grep -q "Generated the admin API key"; then fail "a node printed an admin key again"; else pass "the second up prints no admin key"; fi
else
  fail "the nodes did not become ready after down and up"
fi

summary

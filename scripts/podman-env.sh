# What scripts/image-check.sh and scripts/compose-check.sh share: podman with a config and storage
# of our own under $CACHE (nothing in /etc changes), and the base images made here rather than
# pulled (no registry access), and the PASS/FAIL lines both print. Sourced with $CHECK (the
# script's name in its messages) and $work (a temp dir) set.

STARTED=$SECONDS
failures=0
checks=0
say() { echo "$CHECK: $*"; }
die() { say "$*"; echo "FAIL  setup: $*"; exit 1; }
pass() { checks=$((checks + 1)); echo "PASS  $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL  $*"; }
# The last line: how many checks, how many failed; the exit status says whether any did.
summary() {
  say "$checks checks, $failures failed, in $((SECONDS - STARTED))s"
  [ "$failures" = 0 ]
}

CACHE=${WEBHOOKD_IMAGE_CACHE:-/var/cache/webhookd-image-check}
BUN_VERSION=$(sed -n 's|^FROM oven/bun:\([^ ]*\).*|\1|p' Dockerfile)

# Installs the Debian packages named (when their command is missing) and writes podman's config.
podman_setup() {
  [ "$(id -u)" = 0 ] || die "run as root (rootful podman, apt-get)"
  [ -n "$BUN_VERSION" ] || die "no 'FROM oven/bun:<version>' in Dockerfile"
  local missing=() tool
  for tool in "$@"; do # each is its own Debian package's name
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_log=$( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") 2>&1) ||
      { tail -5 <<<"$apt_log"; die "apt-get install ${missing[*]} failed"; }
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed (it fetches the bun binary)"
  command -v bun >/dev/null 2>&1 || die "bun is needed (it finds a free port)"
  # Podman's config and storage of our own, so nothing in /etc changes. vfs: overlay does not
  # mount here; runc on cgroupfs: crun refuses the host's hybrid cgroups; explicit ulimits: root
  # lacks CAP_SYS_RESOURCE to raise them to podman's defaults; file events: no journald.
  mkdir -p "$CACHE"
  cat >"$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "/run/webhookd-image-check/libpod"
EOF
  cat >"$CACHE/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$CACHE/storage"
runroot = "/run/webhookd-image-check/storage"
EOF
  cat >"$CACHE/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
  export CONTAINERS_CONF=$CACHE/containers.conf CONTAINERS_STORAGE_CONF=$CACHE/storage.conf CONTAINERS_REGISTRIES_CONF=$CACHE/registries.conf
}

# The base images, made once: debian:bookworm-slim and the oven/bun stand-in.
podman_base_images() {
  if ! podman image exists docker.io/library/debian:bookworm-slim; then
    say "making debian:bookworm-slim with debootstrap"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
      { tail -5 "$work/debootstrap.log"; die "debootstrap failed"; }
    rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/archives/*.deb
    tar -C "$work/rootfs" -c . | podman import --quiet - docker.io/library/debian:bookworm-slim >/dev/null || die "podman import failed"
    rm -rf "$work/rootfs"
  fi
  # The oven/bun stand-in: npm's bun binary on that base. TLS to the npm registry may go through an
  # intercepting proxy whose CA the host trusts (/usr/local/share/ca-certificates), so the build
  # stage trusts it too; the Dockerfile itself stays as it is for Docker Hub's oven/bun.
  if ! podman image exists "docker.io/oven/bun:$BUN_VERSION"; then
    say "making oven/bun:$BUN_VERSION from npm's @oven/bun-linux-x64@$BUN_VERSION"
    mkdir -p "$work/bun"
    (cd "$work/bun" && npm pack --silent "@oven/bun-linux-x64@$BUN_VERSION" >/dev/null && tar xzf ./*.tgz) || die "npm pack @oven/bun-linux-x64@$BUN_VERSION failed"
    cat /usr/local/share/ca-certificates/*.crt >"$work/bun/extra-ca.pem" 2>/dev/null
    {
      echo "FROM docker.io/library/debian:bookworm-slim"
      echo "COPY package/bin/bun /usr/local/bin/bun"
      if [ -s "$work/bun/extra-ca.pem" ]; then
        echo "COPY extra-ca.pem /usr/local/share/extra-ca.pem"
        echo "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca.pem"
      fi
      echo "RUN ln -s bun /usr/local/bin/bunx && bun --version"
      echo "WORKDIR /home/bun/app"
    } >"$work/bun/Containerfile"
    podman build --quiet --network host --pull=never -t "docker.io/oven/bun:$BUN_VERSION" "$work/bun" >/dev/null || die "building the oven/bun stand-in failed"
  fi
}

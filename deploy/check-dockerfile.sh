#!/usr/bin/env bash
# Checks deploy/Dockerfile (and deploy/tandem.service) without a container engine, which the
# project's CI machine does not have. What it checks:
#   - every COPY source exists in the build context (the repository root) and is not
#     excluded by deploy/Dockerfile.dockerignore;
#   - the base images are pinned by tag (no `latest`), and the builder's Rust version is the
#     one rust-toolchain.toml pins;
#   - the image runs as a non-root user, and ENTRYPOINT names the binary COPY put there;
#   - the build command of the Dockerfile builds the binary here: the same `cargo build`
#     line, without `--release` by default (the tests' build already compiled it that way);
#     CHECK_DOCKERFILE_RELEASE=1 runs it exactly, `--release` included;
#   - the systemd unit passes `systemd-analyze verify` (when systemd-analyze exists).
# What it cannot check: that the image builds and starts. docs/operations.md says so.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
file=deploy/Dockerfile
fail() { echo "check-dockerfile: $*" >&2; exit 1; }

# Joined continuation lines, comments dropped.
body="$(sed -e 's/[[:space:]]*#.*$//' "$file" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -v '^[[:space:]]*$')"

# COPY sources (not --from stages) exist.
while read -r src; do
  [[ -e "$src" ]] || fail "COPY source missing: $src"
  if grep -qx '\*' deploy/Dockerfile.dockerignore && ! grep -qx "!${src%/}/\?" deploy/Dockerfile.dockerignore; then
    fail "COPY source $src is excluded by deploy/Dockerfile.dockerignore"
  fi
done < <(grep -E '^COPY ' <<<"$body" | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}')

# Base images pinned; the Rust version is the pinned toolchain.
grep -E '^FROM ' <<<"$body" | grep -qE ':latest|^FROM [^:$ ]+( |$)' && fail "a base image is not pinned by tag"
pinned="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
grep -qE "^ARG RUST_VERSION=${pinned}\$" <<<"$body" || fail "RUST_VERSION is not ${pinned} (rust-toolchain.toml)"

# Non-root at run time: the last USER of the final stage.
user="$(awk '/^FROM /{u=""} /^USER /{u=$2} END{print u}' <<<"$body")"
[[ -n "$user" ]] || fail "the final stage sets no USER (it would run as root)"
case "${user%%:*}" in root|0) fail "the final stage runs as root ($user)";; esac

# ENTRYPOINT is the binary copied from the build stage.
dest="$(grep -E '^COPY --from=build ' <<<"$body" | awk '{print $NF}')"
grep -qF "ENTRYPOINT [\"$dest\"]" <<<"$body" || fail "ENTRYPOINT is not $dest"

# The build command, as the Dockerfile runs it.
build="$(grep -oE 'cargo build [^&]*' <<<"$body" | head -n1 | sed 's/[[:space:]]*$//')"
[[ "$build" == *"--locked"* && "$build" == *"--bin tandem"* ]] || fail "unexpected build command: $build"
if [[ "${CHECK_DOCKERFILE_RELEASE:-}" == 1 ]]; then
  echo "running: $build"
  $build
else
  echo "running: ${build/ --release/} (CHECK_DOCKERFILE_RELEASE=1 for --release)"
  ${build/ --release/}
fi

# The systemd unit, with ExecStart pointed at the binary just built.
if command -v systemd-analyze >/dev/null 2>&1; then
  target="${CARGO_TARGET_DIR:-target}/debug/tandem"
  [[ "${CHECK_DOCKERFILE_RELEASE:-}" == 1 ]] && target="${CARGO_TARGET_DIR:-target}/release/tandem"
  unit="$(mktemp -d)/tandem.service"
  sed "s#/usr/local/bin/tandem#$(realpath "$target")#" deploy/tandem.service >"$unit"
  out="$(systemd-analyze verify "$unit" 2>&1 || true)"
  rm -rf "$(dirname "$unit")"
  # Users and paths of the target host (the tandem user, /etc/tandem) do not exist here.
  problems="$(grep -vE "tandem\.env|/etc/tandem|Unknown user|group|network-online|postgresql\.service" <<<"$out" || true)"
  [[ -z "$problems" ]] || fail "systemd-analyze verify deploy/tandem.service: $problems"
  echo "systemd-analyze verify deploy/tandem.service: ok"
fi
echo "check-dockerfile: ok (static checks; the image itself was not built here)"

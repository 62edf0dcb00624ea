#!/usr/bin/env bash
# Release archives: static Linux binaries of tfauth and atmos-auth-helper (musl, stripped)
# in OUT_DIR/tfauth-<target>.tar.gz, and OUT_DIR/SHA256SUMS, which the GitHub Action's
# install step checks. Needs the target's standard library (`rustup target add`, done here)
# and a C compiler for musl (ring's C and assembly): Debian's musl-tools, installed if
# missing, with `file` for the report.
#
#   shell/release.sh [TARGET] [OUT_DIR]      # default x86_64-unknown-linux-musl, dist
set -euo pipefail
target="${1:-x86_64-unknown-linux-musl}"
out="${2:-dist}"
cd "$(dirname "$0")/.."

rustup target add "${target}" >/dev/null
if ! command -v musl-gcc >/dev/null || ! command -v file >/dev/null; then
  sudo=""
  uid=$(id -u)
  [[ "${uid}" -eq 0 ]] || sudo=sudo
  ${sudo} env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  ${sudo} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools file >&2
fi
# Stripped, no debug info: the archives are what people install. A panic still prints its
# message and location; a backtrace loses function names.
CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols \
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "${target}" --bins

built="target/${target}/release"
mkdir -p "${out}"
tar -czf "${out}/tfauth-${target}.tar.gz" -C "${built}" tfauth atmos-auth-helper
(cd "${out}" && sha256sum "tfauth-${target}.tar.gz" >SHA256SUMS)
for b in tfauth atmos-auth-helper; do
  size=$(stat -c %s "${built}/${b}")
  kind=$(file -b "${built}/${b}")
  printf '%s: %s bytes: %s\n' "${b}" "${size}" "${kind}"
done
echo "wrote ${out}/tfauth-${target}.tar.gz and ${out}/SHA256SUMS" >&2

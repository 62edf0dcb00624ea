#!/usr/bin/env bash
# The GitHub Action's install step (action.yml): tfauth and atmos-auth-helper into
# $RUNNER_TEMP/tfauth/bin, which goes on $GITHUB_PATH for the job's later steps.
#
# From the release archive for this runner when there is one (checked against the
# release's SHA256SUMS: a mismatch fails the step, it never falls back), else built from the
# action's own source (the repository at the action's ref) with `cargo install --locked`.
# TFAUTH_RELEASE_URL replaces the release's download URL (a mirror; the tests).
set -euo pipefail
root="${RUNNER_TEMP:?not a GitHub Actions step: RUNNER_TEMP is not set}/tfauth"
bin="${root}/bin"
mkdir -p "${bin}"

os=$(uname -s)
arch=$(uname -m)
case "${os}-${arch}" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  *) target="" ;;
esac
version="${INPUT_VERSION:-${TFAUTH_ACTION_REF:-}}"
base="${TFAUTH_RELEASE_URL:-https://github.com/${TFAUTH_ACTION_REPOSITORY:-}/releases/download/${version}}"

installed=""
if [[ -n "${target}" && -n "${version}" ]]; then
  archive="tfauth-${target}.tar.gz"
  tmp=$(mktemp -d)
  if curl -fsSL --retry 2 "${base}/${archive}" -o "${tmp}/${archive}" 2>/dev/null &&
    curl -fsSL --retry 2 "${base}/SHA256SUMS" -o "${tmp}/SHA256SUMS" 2>/dev/null; then
    want=$(awk -v f="${archive}" '$2 == f || $2 == "*" f { print $1 }' "${tmp}/SHA256SUMS")
    sum=$(sha256sum "${tmp}/${archive}")
    got="${sum%% *}"
    if [[ -z "${want}" || "${want}" != "${got}" ]]; then
      echo "::error::${archive} does not match the release's SHA256SUMS (want ${want:-nothing}, got ${got})" >&2
      exit 1
    fi
    tar -xf "${tmp}/${archive}" -C "${bin}" tfauth atmos-auth-helper
    installed="release ${version} (${target})"
  fi
  rm -rf "${tmp}"
fi
if [[ -z "${installed}" ]]; then
  echo "no release archive for ${target:-this runner} at ${version:-this ref}: building from the action's source" >&2
  cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "${root}"
  installed="source at ${version:-the action ref}"
fi

echo "${bin}" >>"${GITHUB_PATH:?}"
v=$("${bin}/tfauth" --version)
echo "version=${v#tfauth }" >>"${GITHUB_OUTPUT:-/dev/null}"
echo "installed ${v} from ${installed}" >&2

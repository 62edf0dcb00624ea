#!/usr/bin/env bash
# The GitHub Action's authenticate step (action.yml): `tfauth auth env --format github
# --login` for the identity, or the component and stack, the inputs name. tfauth appends the
# environment to $GITHUB_ENV and prints `::add-mask::` for every secret. The inputs arrive
# as environment variables and are passed as single arguments: none is ever run as code.
set -euo pipefail
args=(auth env --format github --login)
if [[ -n "${INPUT_COMPONENT:-}" ]]; then
  if [[ -z "${INPUT_STACK:-}" ]]; then
    echo "::error::the tfauth action's input component needs stack too" >&2
    exit 64
  fi
  args+=("${INPUT_COMPONENT}" -s "${INPUT_STACK}")
fi
if [[ -n "${INPUT_IDENTITY:-}" ]]; then
  args+=(-i "${INPUT_IDENTITY}")
fi
if [[ -n "${INPUT_PROFILE:-}" ]]; then
  # Profile names, comma-separated: nothing that could start another $GITHUB_ENV line.
  if ! [[ "${INPUT_PROFILE}" =~ ^[A-Za-z0-9._,/-]+$ ]]; then
    echo "::error::the tfauth action's input profile must be profile names separated by commas" >&2
    exit 64
  fi
  export ATMOS_PROFILE="${INPUT_PROFILE}"
  # Later steps (tfauth plan, the helper terraform runs) apply the same profiles.
  printf 'ATMOS_PROFILE=%s\n' "${INPUT_PROFILE}" >>"${GITHUB_ENV:?}"
fi
exec tfauth "${args[@]}"

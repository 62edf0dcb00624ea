# shellcheck shell=bash
# `terraform` and `tofu` as tfauth, with tfauth's completion (needs tfauth.bash first:
# `tfauth shell-init bash --alias` prints both). tfauth never execs itself: it finds the
# real terraform on PATH. `tofu` names its executable, or tfauth would run terraform when
# both are installed. Sourcing this again redefines the same two aliases.
alias terraform=tfauth
alias tofu='ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu tfauth'
complete -o default -F _tfauth terraform tofu

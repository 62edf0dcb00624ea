# `terraform` and `tofu` as tfauth, with tfauth's completion (needs tfauth.zsh first:
# `tfauth shell-init zsh --alias` prints both). tfauth never execs itself: it finds the
# real terraform on PATH. `tofu` names its executable, or tfauth would run terraform when
# both are installed. Sourcing this again redefines the same two aliases.
alias terraform=tfauth
alias tofu='ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu tfauth'
# Used when `setopt complete_aliases` is on; otherwise zsh completes the expanded alias.
__tfauth_compdef terraform tofu

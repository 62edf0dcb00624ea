# The tfauth segment on zsh's right prompt, while a `tfauth auth shell` is active:
#   ~/infra %                                  [plat-dev/terraform 42m]
# Source this from ~/.zshrc after `eval "$(tfauth shell-init zsh)"` (which defines
# __tfauth_prompt). It goes before anything already in RPROMPT; sourcing it again
# changes nothing. prompt_subst makes zsh run $(...) at each prompt.
setopt prompt_subst
if [[ $RPROMPT != *__tfauth_prompt* ]]; then
    RPROMPT='$(__tfauth_prompt "[%s]")'"${RPROMPT:+ $RPROMPT}"
fi

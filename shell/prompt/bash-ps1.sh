# shellcheck shell=bash
# The tfauth segment in bash's prompt, while a `tfauth auth shell` is active:
#   you@host:~/infra [plat-dev/terraform 42m]$
# Source this from ~/.bashrc after `eval "$(tfauth shell-init bash)"` (which defines
# __tfauth_prompt), or copy the idea into your own PS1. It puts the segment before the
# final `\$ ` of your PS1, or at its end; sourcing it again changes nothing.
# shellcheck disable=SC2016 # $(__tfauth_prompt) must stay unexpanded: bash runs it at each prompt
case $PS1 in
*__tfauth_prompt*) ;;
*'\$ ') PS1=${PS1%'\$ '}'$(__tfauth_prompt)\$ ' ;;
*) PS1=$PS1'$(__tfauth_prompt)' ;;
esac

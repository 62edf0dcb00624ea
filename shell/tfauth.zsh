# tfauth for zsh: completion for `tfauth` and the prompt segment `__tfauth_prompt`.
# Load it from ~/.zshrc with:  eval "$(tfauth shell-init zsh)"   (add --alias for
# terraform/tofu). Sourcing it again replaces these definitions; it adds nothing twice.
#
# Completion asks tfauth itself: `tfauth __complete -- WORD...` gets the words after the
# program name up to the cursor and prints one candidate a line, `value` or
# `value<TAB>description`, already filtered by the last word's prefix.

_tfauth() {
    local -a lines values descs displays
    local line value desc width=0 i
    # words[1] is the command; the current word counts only up to the cursor ($PREFIX).
    lines=("${(@f)$(command tfauth __complete -- "${(@Q)words[2,CURRENT-1]}" "${(Q)PREFIX}" 2>/dev/null)}")
    for line in "${lines[@]}"; do
        value=${line%%$'\t'*}
        [[ -n $value ]] || continue
        desc=
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        values+=("$value")
        descs+=("$desc")
        (( ${#value} > width )) && width=${#value}
    done
    if (( ${#values} == 0 )); then
        # Nothing from tfauth (a terraform flag's value, a file): complete files, like bash's
        # `complete -o default`, also after `-flag=`.
        if (( $+functions[_default] )); then
            [[ $PREFIX == -*=* ]] && compset -P '*='
            _default
        fi
        return
    fi
    if [[ -n ${(j::)descs} ]]; then
        # One candidate a line, descriptions in a column, as _describe shows them.
        for (( i = 1; i <= ${#values}; i++ )); do
            displays+=("${(r:width:)values[i]}${descs[i]:+  -- ${descs[i]}}")
        done
        compadd -l -d displays -a values
    else
        compadd -a values
    fi
}

# Registers _tfauth for the commands given: at once when compinit has run (compdef
# exists), otherwise at the first prompt after it has (a one-time precmd hook), so this
# file may come before or after compinit in ~/.zshrc.
typeset -gaU __tfauth_compdef_queue
__tfauth_compdef() {
    __tfauth_compdef_queue+=("$@")
    if (( $+functions[compdef] )); then
        compdef _tfauth "${__tfauth_compdef_queue[@]}"
        __tfauth_compdef_queue=()
        add-zsh-hook -d precmd __tfauth_compdef
    else
        add-zsh-hook precmd __tfauth_compdef
    fi
}
autoload -Uz add-zsh-hook
__tfauth_compdef tfauth

# The prompt segment: ` [<identity> <time left>]` while a `tfauth auth shell` is active,
# nothing otherwise (without running tfauth). An optional printf format replaces
# ` [%s]`. For prompts with `setopt prompt_subst`: `%` in the segment is doubled. Keeps
# `$?`, so prompts that show the last exit status still can.
__tfauth_prompt() {
    local last=$? segment
    if [[ -n ${TFAUTH_IDENTITY-} ]]; then
        segment=$(command atmos-auth-helper prompt 2>/dev/null)
        if [[ -n $segment ]]; then
            printf -- "${1- [%s]}" "${segment//\%/%%}"
        fi
    fi
    return last
}

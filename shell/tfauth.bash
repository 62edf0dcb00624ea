# shellcheck shell=bash
# tfauth for bash: completion for `tfauth` and the prompt segment `__tfauth_prompt`.
# Load it from ~/.bashrc with:  eval "$(tfauth shell-init bash)"   (add --alias for
# terraform/tofu). Sourcing it again replaces these definitions; it adds nothing twice.
#
# Completion asks tfauth itself: `tfauth __complete -- WORD...` gets the words after the
# program name up to the cursor and prints one candidate a line, `value` or
# `value<TAB>description`, already filtered by the last word's prefix.

# Reassembles the command line into `__tfauth_words`, one entry per shell word, up to the
# cursor. Bash splits words at the characters of COMP_WORDBREAKS, so `--stack=plat-u`
# arrives as `--stack`, `=`, `plat-u`, and `ops:x` as `ops`, `:`, `x`; the pieces of a
# word touch in COMP_LINE, which is how they are told apart from separate words.
__tfauth_words() {
    local line=${COMP_LINE:0:COMP_POINT} word glued i n
    __tfauth_words=()
    for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
        word=${COMP_WORDS[i]}
        glued=1
        if [[ $line == [[:space:]]* ]]; then
            glued=0
            line=${line#"${line%%[![:space:]]*}"}
        fi
        if ((i == COMP_CWORD)); then
            word=$line # only what is left of the cursor
        elif [[ $line == "$word"* ]]; then
            line=${line:${#word}}
        else
            # COMP_LINE and COMP_WORDS disagree (a caller set only COMP_WORDS): trust the words.
            line=
            glued=0
        fi
        n=${#__tfauth_words[@]}
        if ((n > 0 && glued)) && [[ $word == [=:]* || ${__tfauth_words[n - 1]} == *[=:] ]]; then
            __tfauth_words[n - 1]+=$word
        else
            __tfauth_words+=("$word")
        fi
    done
    if ((COMP_CWORD >= ${#COMP_WORDS[@]})); then
        __tfauth_words+=("") # the cursor past the last word
    fi
}

_tfauth() {
    local cur typed='' breaks='' line
    local -a __tfauth_words
    __tfauth_words
    cur=${__tfauth_words[${#__tfauth_words[@]} - 1]}
    # Readline replaces only the text after the last word break (`--stack=` stays typed), so
    # each candidate, a whole word, loses what is already there up to that break.
    [[ $COMP_WORDBREAKS == *=* ]] && breaks+='='
    [[ $COMP_WORDBREAKS == *:* ]] && breaks+=':'
    if [[ -n $breaks ]]; then
        typed=${cur%"${cur##*["$breaks"]}"}
    fi
    COMPREPLY=()
    # shellcheck disable=SC2312 # tfauth's status does not matter: no output, no candidates
    while IFS= read -r line; do
        line=${line%%$'\t'*} # the description: bash has no place for it
        [[ -n $line ]] || continue
        if [[ -n $typed && $line == "$typed"* ]]; then
            line=${line:${#typed}}
        fi
        COMPREPLY+=("$line")
    done < <(command tfauth __complete -- "${__tfauth_words[@]:1}" 2>/dev/null)
    return 0
}

complete -o default -F _tfauth tfauth

# The prompt segment: ` [<identity> <time left>]` while a `tfauth auth shell` is active,
# nothing otherwise (without running tfauth). An optional printf format replaces
# ` [%s]`. Keeps `$?`, so prompts that show the last exit status still can.
__tfauth_prompt() {
    local status=$? segment
    if [[ -n ${TFAUTH_IDENTITY-} ]]; then
        segment=$(command atmos-auth-helper prompt 2>/dev/null)
        if [[ -n $segment ]]; then
            # shellcheck disable=SC2059 # the format is the caller's, by design
            printf -- "${1- [%s]}" "$segment"
        fi
    fi
    return "$status"
}

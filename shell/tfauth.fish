# tfauth for fish: completion for `tfauth` and the prompt segment `__tfauth_prompt`.
# Load it from ~/.config/fish/config.fish with:  tfauth shell-init fish | source
# (add --alias for terraform/tofu). Sourcing it again replaces these definitions; it adds
# nothing twice.
#
# Completion asks tfauth itself: `tfauth __complete -- WORD...` gets the words after the
# program name up to the cursor and prints one candidate a line, `value` or
# `value<TAB>description` (fish's own format), already filtered by the last word's prefix.

function __tfauth_complete --description 'Completion candidates for tfauth, from tfauth'
    # The words before the cursor's, without the command itself, then the current word
    # up to the cursor.
    set -l words (commandline -opc)
    set -e words[1]
    set -l current (commandline -ct)
    set -l candidates (command tfauth __complete -- $words "$current" 2>/dev/null)
    if test (count $candidates) -gt 0
        printf '%s\n' $candidates
    else
        # Nothing from tfauth (a terraform flag's value, a file): complete paths, like
        # bash's `complete -o default`, also after `-flag=`.
        set -l flag (string match -r -- '^-[^=]*=' "$current")
        set -l path (string replace -r -- '^-[^=]*=' '' "$current")
        for p in (__fish_complete_path "$path")
            printf '%s%s\n' "$flag" $p
        end
    end
end

complete -c tfauth -e
complete -c tfauth -f -a '(__tfauth_complete)'

# The prompt segment: ` [<identity> <time left>]` while a `tfauth auth shell` is active,
# nothing otherwise (without running tfauth). An optional printf format replaces
# ` [%s]`. Keeps $status, so prompts that show the last exit status still can.
function __tfauth_prompt --description 'The tfauth identity of this shell and its time left'
    set -l last $status
    if test -n "$TFAUTH_IDENTITY"
        set -l segment (command atmos-auth-helper prompt 2>/dev/null)
        if test -n "$segment"
            set -l format ' [%s]'
            set -q argv[1]; and set format $argv[1]
            printf $format "$segment"
        end
    end
    return $last
end

# The tfauth segment on fish's right prompt, while a `tfauth auth shell` is active:
#   ~/infra>                                   [plat-dev/terraform 42m]
# Source this from ~/.config/fish/config.fish after `tfauth shell-init fish | source`
# (which defines __tfauth_prompt). A right prompt you already have is kept, after the
# segment; sourcing this again changes nothing. In a fish_prompt of your own, call
# `__tfauth_prompt` wherever you want the segment instead.
if not set -q __tfauth_right_prompt_installed
    set -g __tfauth_right_prompt_installed 1
    if functions -q fish_right_prompt
        functions --copy fish_right_prompt __tfauth_previous_right_prompt
    end
end
function fish_right_prompt --description 'tfauth segment, then the previous right prompt'
    __tfauth_prompt '[%s]'
    if functions -q __tfauth_previous_right_prompt
        __tfauth_previous_right_prompt
    end
end

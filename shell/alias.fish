# `terraform` and `tofu` as tfauth, with tfauth's completion (needs tfauth.fish first:
# `tfauth shell-init fish --alias` prints both). tfauth never execs itself: it finds the
# real terraform on PATH. `tofu` names its executable, or tfauth would run terraform when
# both are installed. `--wraps tfauth` is `complete -c terraform -w tfauth`, except that
# sourcing this again leaves one wrap instead of adding an empty completion each time.
function terraform --wraps tfauth --description 'terraform through tfauth'
    tfauth $argv
end
function tofu --wraps tfauth --description 'tofu through tfauth'
    ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu tfauth $argv
end

"""Runs a composite action's steps the way the GitHub Actions runner does, then one more step.

What the runner does, and this does (for the parts action.yml uses):
- each `run:` step is written to a file and run with `bash --noprofile --norc -eo pipefail
  FILE`, in `working-directory` (relative to GITHUB_WORKSPACE), with the job's environment,
  what earlier steps appended to GITHUB_ENV, the step's `env:`, and PATH with the
  directories earlier steps appended to GITHUB_PATH in front (the latest first);
- each step gets fresh GITHUB_ENV, GITHUB_PATH and GITHUB_OUTPUT files, read after it ends:
  `NAME=value` lines and the `NAME<<DELIMITER` form for values with line breaks;
- expressions: `${{ inputs.NAME }}` (the input, else its default) and `${{ github.* }}` for
  action_path, action_ref, action_repository and workspace; any other expression fails,
  so the action stays within what this emulation checks;
- a composite step's GITHUB_ACTION_PATH is the action's directory;
- `::add-mask::VALUE` lines on a step's stdout are masks.

Usage: actions_runner.py ACTION_DIR INPUTS_JSON NEXT_STEP_PYTHON
Prints one JSON document: each step's exit code, stderr and outputs, the masks, the final
environment (names only for secrets), and what the next step printed (its last line).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def evaluate(text, inputs, github):
    def one(m):
        expr = m.group(1)
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs."):]]
        if expr.startswith("github.") and expr[len("github."):] in github:
            return github[expr[len("github."):]]
        raise SystemExit(f"expression the emulation does not know: {expr}")

    return EXPR.sub(one, text) if isinstance(text, str) else text


def read_env_file(path):
    out, lines = {}, open(path).read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            while lines[i] != delim:
                value.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(value)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def main():
    action_dir, inputs_json, next_step = sys.argv[1:4]
    action = yaml.safe_load(open(os.path.join(action_dir, "action.yml")))
    given = json.loads(inputs_json)
    declared = action.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise SystemExit(f"inputs the action does not declare: {sorted(unknown)}")
    inputs = {k: str(given.get(k, v.get("default", ""))) for k, v in declared.items()}
    workspace = os.environ["GITHUB_WORKSPACE"]
    github = {
        "action_path": action_dir,
        "action_ref": os.environ.get("EMULATED_ACTION_REF", ""),
        "action_repository": "tfauth/tfauth",
        "workspace": workspace,
    }
    env = dict(os.environ)
    paths, masks, steps = [], [], []
    tmp = tempfile.mkdtemp()
    for n, step in enumerate(action["runs"]["steps"]):
        files = {k: os.path.join(tmp, f"{k}.{n}") for k in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT")}
        for f in files.values():
            open(f, "w").close()
        step_env = dict(env)
        step_env.update({k: evaluate(str(v), inputs, github) for k, v in (step.get("env") or {}).items()})
        step_env.update(files)
        step_env["GITHUB_ACTION_PATH"] = action_dir
        step_env["PATH"] = ":".join(list(reversed(paths)) + [env["PATH"]])
        assert step.get("shell") == "bash", step
        script = os.path.join(tmp, f"step{n}.sh")
        open(script, "w").write(evaluate(step["run"], inputs, github))
        cwd = os.path.join(workspace, evaluate(step.get("working-directory", "."), inputs, github))
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], cwd=cwd, env=step_env,
                           capture_output=True, text=True)
        masks += [l[len("::add-mask::"):] for l in p.stdout.splitlines() if l.startswith("::add-mask::")]
        steps.append({"name": step.get("name"), "code": p.returncode, "stderr": p.stderr,
                      "outputs": read_env_file(files["GITHUB_OUTPUT"])})
        if p.returncode != 0:
            break
        env.update(read_env_file(files["GITHUB_ENV"]))
        paths += [l for l in open(files["GITHUB_PATH"]).read().splitlines() if l]
    result = {"steps": steps, "masks": masks, "path": paths,
              "env": sorted(k for k in env if k not in os.environ or env[k] != os.environ[k])}
    if all(s["code"] == 0 for s in steps):
        env["PATH"] = ":".join(list(reversed(paths)) + [env["PATH"]])
        p = subprocess.run([sys.executable, "-c", next_step], cwd=workspace, env=env, capture_output=True, text=True)
        result["next"] = {"code": p.returncode, "stdout": p.stdout.strip().splitlines()[-1:] or [""],
                          "stderr": p.stderr}
        result["env_values"] = {k: env[k] for k in result["env"] if k.startswith(("AWS_", "ATMOS_"))}
    print(json.dumps(result))


main()

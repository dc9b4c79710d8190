#!/usr/bin/env python3
"""tools/check-layer --bitbake DIR: the layer under real bitbake.

DIR holds a git repository (a checkout or a bare mirror) for each layer the
kas files name, under the kas name: bitbake, openembedded-core,
meta-raspberrypi, meta-openembedded. Each is exported at the
commit the kas file pins (a repository without that commit fails the
check), a build directory is written as kas would write it for the machine
file given, and, as an unprivileged user (bitbake refuses root):

- `bitbake -p` parses every recipe of the build: no error, no warning;
- `bitbake -e` of every recipe of meta-confcam expands;
- `bitbake -g confcam-image` makes the image's graph, which must hold what
  the board needs (seeed-voicecard's modules and overlays on a HAT board,
  udev-rules-rpi for the device groups), and RAUC once the kas files bring
  meta-rauc.

Prints the graph's recipe count, the figure a leaner distro lowers.

  bitbake-check.py DIR WORK KAS-FILE
"""

import os
import re
import shutil
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = "confcam-bitbake"


def kas_config(path):
    """A kas file with its includes merged, as kas merges them."""
    merged = {"repos": {}, "local_conf_header": {}}
    config = yaml.safe_load(open(os.path.join(REPO, path)))
    for include in config.get("header", {}).get("includes", []):
        inner = kas_config(include)
        merged["repos"].update(inner["repos"])
        merged["local_conf_header"].update(inner["local_conf_header"])
        for key in ("machine", "distro", "target"):
            if inner.get(key) is not None:
                merged[key] = inner[key]
    merged["repos"].update(config.get("repos", {}))
    merged["local_conf_header"].update(config.get("local_conf_header", {}))
    for key in ("machine", "distro", "target"):
        if key in config:
            merged[key] = config[key]
    return merged


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def export_layers(config, source, work):
    """Each pinned repository's tree at its commit; returns BBLAYERS."""
    layers = []
    for name, repo in config["repos"].items():
        if "url" not in repo:
            root = REPO  # this repository
        else:
            git = os.path.join(source, name)
            if not os.path.isdir(git):
                sys.exit(f"bitbake-check: no repository {git} (for {repo['url']})")
            root = os.path.join(work, "layers", name)
            stamp = root + ".commit"
            if not os.path.isfile(stamp) or open(stamp).read() != repo["commit"]:
                shutil.rmtree(root, ignore_errors=True)
                shutil.rmtree(root + ".tmp", ignore_errors=True)
                os.makedirs(root + ".tmp")
                archive = subprocess.run(["git", "-C", git, "archive", repo["commit"]], capture_output=True)
                if archive.returncode != 0:
                    sys.exit(f"bitbake-check: {git} has no commit {repo['commit']} ({name} in the kas files)")
                run(["tar", "-x", "-C", root + ".tmp"], input=archive.stdout.decode("latin-1"), encoding="latin-1")
                os.rename(root + ".tmp", root)
                with open(stamp, "w") as f:
                    f.write(repo["commit"])
        for layer, state in (repo.get("layers") or {".": None}).items():
            if state != "disabled":
                layers.append(os.path.normpath(os.path.join(root, layer)))
    return layers


def write_build(config, layers, build):
    conf = os.path.join(build, "conf")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "bblayers.conf"), "w") as f:
        f.write('BBPATH = "${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = "\\\n')
        f.writelines(f"    {layer} \\\n" for layer in layers)
        f.write('"\n')
    with open(os.path.join(conf, "local.conf"), "w") as f:
        for text in config["local_conf_header"].values():
            f.write(text.rstrip("\n") + "\n")
        f.write(f'MACHINE ?= "{config["machine"]}"\nDISTRO ?= "{config["distro"]}"\n')
        # Parsing needs no downloads; keep what bitbake writes in the work dir.
        f.write('BB_NO_NETWORK = "1"\nDL_DIR = "${TOPDIR}/downloads"\nSSTATE_DIR = "${TOPDIR}/sstate"\n')


def bitbake(work, build, layers, *args, skipped_ok=False):
    """bitbake as the unprivileged user; returns its output (None for a
    recipe this machine skips, when `skipped_ok`)."""
    bindir = os.path.join(work, "layers", "bitbake", "bin")
    scripts = next(os.path.join(os.path.dirname(layer), "scripts") for layer in layers if layer.endswith("/meta"))
    env = {
        "HOME": work,
        "PATH": f"{bindir}:{scripts}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "BBPATH": build,
    }
    cmd = ["bitbake", *args]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", USER, "--", "env", *[f"{k}={v}" for k, v in env.items()], *cmd]
        env = None
    result = subprocess.run(cmd, cwd=build, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode != 0 and skipped_ok and "was skipped: incompatible with machine" in output:
        return None
    if result.returncode != 0:
        print(output[-4000:], file=sys.stderr)
        sys.exit(f"bitbake-check: bitbake {' '.join(args)} failed ({result.returncode})")
    return output


def var(env_output, name):
    found = re.search(rf'^{re.escape(name)}="(.*)"$', env_output, re.M)
    return found[1] if found else None


def main():
    source, work, kas = sys.argv[1:4]
    config = kas_config(kas)
    os.makedirs(work, exist_ok=True)
    # bitbake's sanity check wants this locale.
    if "en_US.utf8" not in subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout:
        run(["localedef", "-i", "en_US", "-f", "UTF-8", "en_US.UTF-8"])
    if os.getuid() == 0:
        if subprocess.run(["id", USER], capture_output=True).returncode != 0:
            run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
    layers = export_layers(config, source, work)
    build = os.path.join(work, "build-" + config["machine"])
    shutil.rmtree(os.path.join(build, "tmp"), ignore_errors=True)
    write_build(config, layers, build)
    if os.getuid() == 0:
        run(["chown", "-R", USER, work])
    problems = []

    parsed = bitbake(work, build, layers, "-p")
    summary = re.search(r"Parsing of (\d+) \.bb files complete.*?(\d+) targets, (\d+) skipped, (\d+) masked, (\d+) errors", parsed)
    warnings = [line for line in parsed.splitlines() if line.startswith("WARNING:")]
    if not summary:
        problems.append("bitbake -p printed no parse summary")
    elif summary[5] != "0" or warnings:
        problems.append(f"bitbake -p: {summary[5]} errors, {len(warnings)} warnings: {warnings[:5]}")
    print(f"bitbake-check: bitbake -p: {summary[0] if summary else '?'}; {len(warnings)} warnings")

    ours = sorted(
        re.sub(r"_[^_]*$", "", os.path.basename(f)[: -len(".bb")])
        for dirpath, _, files in os.walk(os.path.join(REPO, "yocto/meta-confcam"))
        for f in [os.path.join(dirpath, name) for name in files]
        if f.endswith(".bb") and "dynamic-layers" not in f
    )
    envs = {pn: bitbake(work, build, layers, "-e", pn, skipped_ok=True) for pn in ours}
    skipped = [pn for pn in ours if envs[pn] is None]
    print(f"bitbake-check: bitbake -e expands {len(ours) - len(skipped)} recipes of meta-confcam: "
          f"{' '.join(pn for pn in ours if pn not in skipped)}" + (f" (skipped for {config['machine']}: {' '.join(skipped)})" if skipped else ""))

    image = envs["confcam-image"]
    voicecard = re.findall(r"seeed-voicecard/([\w-]+)\.dtbo;overlays/", var(image, "IMAGE_BOOT_FILES") or "")
    install = (var(image, "IMAGE_INSTALL") or "").split()
    kernel = var(image, "PREFERRED_VERSION_linux-raspberrypi")
    print(f"bitbake-check: board {var(image, 'CONFCAM_BOARD')}: overlays {voicecard or 'none'}, kernel {kernel}")

    bitbake(work, build, layers, "-g", "confcam-image")
    recipes = open(os.path.join(build, "pn-buildlist")).read().split()
    graph = open(os.path.join(build, "task-depends.dot")).read()
    wanted = ["udev-rules-rpi"]
    if "meta-rauc" in config["repos"]:
        wanted.append("rauc")
    else:
        print("bitbake-check: no meta-rauc in the kas files yet: RAUC is not checked")
    if voicecard:
        wanted.append("seeed-voicecard")
        if "seeed-voicecard" not in install:
            problems.append("the board loads seeed-voicecard overlays but IMAGE_INSTALL has no seeed-voicecard")
        if '"seeed-voicecard.do_deploy"' not in graph:
            problems.append("the image's graph does not deploy seeed-voicecard's overlays")
        if not kernel or not kernel.startswith("6.6"):
            problems.append(f"a HAT board needs the 6.6 kernel, the build has {kernel}")
    for pn in wanted:
        if pn not in recipes:
            problems.append(f"{pn} is not in the image's graph")
    linux = re.search(r'"linux-raspberrypi\.do_compile" \[label="linux-raspberrypi do_compile\\n(?:\d+:)?([^\\"]+)', graph)
    print(f"bitbake-check: bitbake -g confcam-image: {len(recipes)} recipes; linux-raspberrypi "
          f"{linux[1] if linux else '?'}; present: {' '.join(pn for pn in wanted if pn in recipes)}")

    for problem in problems:
        print(f"bitbake-check: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

"""useradd-class parameters from a sysusers.d file.

The image's /etc is read-only, so the confcam user and its groups must be
made when the image is built (oe-core's useradd class), not by
systemd-sysusers at boot. Reading systemd/confcam.sysusers keeps that file
the only place they are defined. Only what that file uses is understood
(`u`, `g`, `m` with automatic or numeric ids); anything else is an error, so
a change there cannot be silently half-applied. Plain Python without bitbake,
so tools/check-layer runs it too.
"""

import shlex


class SysusersError(ValueError):
    pass


def _entries(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = shlex.split(line)
            if fields[0] not in ("u", "g", "m") or len(fields) < 3:
                raise SysusersError(f"{path}:{number}: unsupported line: {line}")
            if fields[0] in ("u", "g") and fields[2] != "-" and not fields[2].isdigit():
                raise SysusersError(f"{path}:{number}: only '-' or a number as the id: {line}")
            yield fields


def groupadd_param(path):
    """GROUPADD_PARAM: one `--system NAME` (or `--gid N`) per `g` line."""
    params = []
    for fields in _entries(path):
        if fields[0] == "g":
            gid = [] if fields[2] == "-" else ["--gid", fields[2]]
            params.append(" ".join(["--system", *gid, fields[1]]))
    return "; ".join(params)


def useradd_param(path, nologin):
    """USERADD_PARAM: one system user per `u` line, in the groups its `m`
    lines name. No --comment: the useradd class splits on spaces."""
    entries = list(_entries(path))
    params = []
    for fields in entries:
        if fields[0] != "u":
            continue
        name = fields[1]
        home = fields[4] if len(fields) > 4 and fields[4] != "-" else "/"
        groups = [m[2] for m in entries if m[0] == "m" and m[1] == name]
        uid = [] if fields[2] == "-" else ["--uid", fields[2]]
        extra = ["--groups", ",".join(groups)] if groups else []
        params.append(" ".join(["--system", *uid, "--user-group", "--no-create-home", "--home-dir", home,
                                "--shell", nologin, *extra, name]))
    for fields in entries:
        if fields[0] == "m" and not any(u[0] == "u" and u[1] == fields[1] for u in entries):
            raise SysusersError(f"{path}: 'm {fields[1]} {fields[2]}' names a user the file does not make")
    return "; ".join(params)

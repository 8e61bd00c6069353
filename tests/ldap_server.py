"""A real OpenLDAP server for tests: slapd on a free 127.0.0.1 port, over a config and LDIF written here.

`LdapServer()` writes slapd.conf (mdb backend, the stock schemas), loads the directory below with
slapadd, starts slapd in the foreground and waits until it answers. `modify(ldif)` changes the
directory through ldapmodify, as an administrator would; `stop()` ends slapd and removes its folder.
`HungServer()` is a socket that listens but never accepts: connections complete (the kernel's
backlog) and then nothing ever answers, like a directory that hangs.

No skip when slapd is missing: the tests must fail, since CI installs it (.ci/run).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .servers import free_port, stop_process

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"
BIND_DN = f"cn=packyard,ou=services,{SUFFIX}"
BIND_PW = "packyard-bind-pw"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

# Directory users: uid -> password; groups: cn -> members.
USERS = {
    "dana": "dana-dir-pw",
    "erik": "erik-dir-pw",
    "fay": "fay-dir-pw",
    "gus": "gus-dir-pw",
    "hana": "hana-dir-pw",
    "ivan": "ivan-dir-pw",
}
GROUP_MEMBERS = {
    "developers": ["dana", "erik", "ivan"],
    "qa": ["erik"],
    "packyard-admins": ["fay"],
}

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {dir}/db
# Passwords: only a bind may use them; the search account reads everything else.
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{bind_dn}" read by self read by * none
"""


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def directory_ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {BIND_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: packyard\nuserPassword: {BIND_PW}",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
    ]
    for uid, password in USERS.items():
        entries.append(
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()} Example\n"
            f"sn: Example\ngivenName: {uid.title()}\nmail: {uid}@example.org\nuserPassword: {password}")
    for cn, members in GROUP_MEMBERS.items():
        lines = "".join(f"member: {user_dn(m)}\n" for m in members)
        entries.append(f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}".rstrip("\n"))
    return "\n\n".join(entries) + "\n"


class LdapServer:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="slapd-test-"))
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        (self.dir / "db").mkdir()
        conf = self.dir / "slapd.conf"
        conf.write_text(SLAPD_CONF.format(dir=self.dir, suffix=SUFFIX, root_dn=ROOT_DN, root_pw=ROOT_PW, bind_dn=BIND_DN))
        data = self.dir / "data.ldif"
        data.write_text(directory_ldif())
        subprocess.run(["slapadd", "-f", str(conf), "-l", str(data)], check=True, capture_output=True, timeout=60)
        self.log_path = self.dir / "slapd.log"
        self._log = open(self.log_path, "wb")
        # -d keeps slapd in the foreground, so stop() owns the process; level 0 logs nothing extra.
        self.process = subprocess.Popen(["slapd", "-f", str(conf), "-h", self.uri, "-d", "0"],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self._wait()

    def env(self, **overrides: str) -> dict:
        """PACKYARD_LDAP_* for a Packyard that logs in against this directory."""
        env = {
            "PACKYARD_LDAP_SERVER_URI": self.uri,
            "PACKYARD_LDAP_BIND_DN": BIND_DN,
            "PACKYARD_LDAP_BIND_PASSWORD": BIND_PW,
            "PACKYARD_LDAP_USER_SEARCH_BASE": PEOPLE,
            "PACKYARD_LDAP_GROUP_SEARCH_BASE": GROUPS,
            "PACKYARD_LDAP_GROUP_TYPE": "groupOfNames",
            "PACKYARD_LDAP_ADMIN_GROUP": group_dn("packyard-admins"),
        }
        env.update(overrides)
        return env

    def _wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited:\n" + self.log_path.read_text(errors="replace"))
            done = subprocess.run(["ldapsearch", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW,
                                   "-b", SUFFIX, "-s", "base", "-LLL", "dn"], capture_output=True, timeout=10)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"slapd on {self.uri} did not answer")

    def modify(self, ldif: str) -> None:
        done = subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
                              input=ldif, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr

    def remove_member(self, group: str, uid: str) -> None:
        self.modify(f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {user_dn(uid)}\n")

    def add_member(self, group: str, uid: str) -> None:
        self.modify(f"dn: {group_dn(group)}\nchangetype: modify\nadd: member\nmember: {user_dn(uid)}\n")

    def delete_user(self, uid: str) -> None:
        self.modify(f"dn: {user_dn(uid)}\nchangetype: delete\n")

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class HungServer:
    """Listens on a free port and never accepts: a directory that takes connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.uri = f"ldap://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self) -> None:
        self.sock.close()

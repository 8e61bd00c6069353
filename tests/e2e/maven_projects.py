"""Maven projects and settings for the e2e tests, and a runner for the real `mvn`.

Plugin versions are pinned to ones the warm ~/.m2 holds with all their dependencies, so every
build resolves through Packyard from a static copy of ~/.m2 and nothing needs the internet.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

M2 = Path.home() / ".m2" / "repository"
PLUGINS = {
    "maven-clean-plugin": "3.3.2", "maven-resources-plugin": "3.3.1", "maven-compiler-plugin": "3.13.0",
    "maven-surefire-plugin": "3.2.5", "maven-jar-plugin": "3.4.1", "maven-install-plugin": "3.1.2",
    "maven-deploy-plugin": "3.1.2",
}
GROUP = "org.example.e2e"


def copy_m2(dest: Path) -> Path:
    """A copy of ~/.m2/repository (hard links where possible: fast, and the source is never written)."""

    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(M2, dest, copy_function=link_or_copy,
                    ignore=shutil.ignore_patterns("*.lastUpdated", "_remote.repositories", "resolver-status.properties"))
    return dest


# Send credentials with every request instead of after a 401 (Maven 3.8's HTTP wagon; docs/formats/maven.md).
PREEMPTIVE = ("<configuration><httpConfiguration><all><usePreemptive>true</usePreemptive></all>"
              "</httpConfiguration></configuration>")


def settings_xml(path: Path, mirror_url: str, servers: dict[str, tuple[str, str]], preemptive: bool = False) -> Path:
    extra = PREEMPTIVE if preemptive else ""
    entries = "".join(f"<server><id>{sid}</id><username>{u}</username><password>{p}</password>{extra}</server>"
                      for sid, (u, p) in servers.items())
    path.write_text(f"""<settings>
  <mirrors><mirror><id>packyard</id><mirrorOf>*</mirrorOf><url>{mirror_url}</url></mirror></mirrors>
  <servers>{entries}</servers>
  <!-- central's default policy leaves snapshots out; this lets the mirror serve them too -->
  <profiles><profile><id>packyard</id>
    <repositories><repository><id>central</id><url>http://central</url>
      <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>central</id><url>http://central</url>
      <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>packyard</activeProfile></activeProfiles>
</settings>
""")
    return path


def _plugins() -> str:
    return "".join(f"<plugin><artifactId>{a}</artifactId><version>{v}</version></plugin>" for a, v in PLUGINS.items())


def _pom(artifact: str, version: str, extra: str = "") -> str:
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{GROUP}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
  <properties>
    <maven.compiler.source>8</maven.compiler.source><maven.compiler.target>8</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  {extra}
  <build><plugins>{_plugins()}</plugins></build>
</project>
"""


def library(root: Path, version: str, releases_url: str, snapshots_url: str, greeting: str = "hello") -> Path:
    folder = root / f"greeter-{version}"
    source = folder / "src/main/java/org/example/e2e/Greeter.java"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text('package org.example.e2e;\n'
                      f'public class Greeter {{ public static String greet(String n) {{ return "{greeting} " + n; }} }}\n')
    dist = (f"<distributionManagement><repository><id>releases</id><url>{releases_url}</url></repository>"
            f"<snapshotRepository><id>snapshots</id><url>{snapshots_url}</url></snapshotRepository>"
            "</distributionManagement>")
    (folder / "pom.xml").write_text(_pom("greeter", version, dist))
    return folder


def consumer(root: Path, greeter_version: str) -> Path:
    folder = root / f"consumer-{greeter_version}"
    source = folder / "src/main/java/org/example/e2e/app/Main.java"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text('package org.example.e2e.app;\n'
                      'public class Main { public static void main(String[] a) { '
                      'System.out.println(org.example.e2e.Greeter.greet("world")); } }\n')
    deps = (f"<dependencies><dependency><groupId>{GROUP}</groupId><artifactId>greeter</artifactId>"
            f"<version>{greeter_version}</version></dependency></dependencies>")
    (folder / "pom.xml").write_text(_pom("consumer", "1.0", deps))
    return folder


def mvn(project: Path, settings: Path, *goals: str, local_repo: Path | None = None) -> subprocess.CompletedProcess:
    """Run mvn with a fresh (or given) local repository, isolated from the machine's ~/.m2 settings."""
    repo = local_repo or Path(tempfile.mkdtemp(prefix="m2-local-"))
    home = tempfile.mkdtemp(prefix="mvn-home-")
    env = {**os.environ, "HOME": home, "MAVEN_OPTS": "-Xmx512m"}
    cmd = ["mvn", "-B", "-q", "-s", str(settings), f"-Dmaven.repo.local={repo}", *goals]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)

"""Golden vectors: the checked-in files are what the reference writes, and the Kotlin core agrees.

The Kotlin core (android_demo/core) is compiled with Debian's kotlinc 1.3 and run with JUnit 4
(``scripts/bootstrap.sh`` installs both), so CI counts its tests.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
KOTLIN_CORE = ROOT / "android_demo" / "core"
JUNIT_CLASSES = ["dev.tinysam.core.GoldenTest", "dev.tinysam.core.AutoMaskGeneratorTest"]
JUNIT_JARS = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar")]


def _generator():
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts" / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_golden_files_are_up_to_date():
    for name, content in _generator().build_vectors().items():
        on_disk = json.loads((GOLDEN / name).read_text())
        assert on_disk == json.loads(json.dumps(content)), f"{name} is stale: run scripts/make_golden.py"


@pytest.mark.slow
def test_kotlin_core_passes_its_junit_suite(tmp_path):
    kotlinc = shutil.which("kotlinc")
    missing = [str(j) for j in JUNIT_JARS if not j.is_file()]
    assert kotlinc and not missing, (
        f"kotlinc ({kotlinc}) and JUnit 4 ({missing or 'ok'}) are needed: apt-get install -y kotlin junit4 "
        "(scripts/bootstrap.sh does it)"
    )
    jar = tmp_path / "core-tests.jar"
    sources = [str(KOTLIN_CORE / "src" / "main" / "kotlin"), str(KOTLIN_CORE / "src" / "test" / "kotlin")]
    compiled = subprocess.run(
        [kotlinc, *sources, "-cp", str(JUNIT_JARS[0]), "-include-runtime", "-d", str(jar)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in compiled.stderr.splitlines() if "error:" in line]
    assert compiled.returncode == 0 and not errors, compiled.stderr[-4000:]
    classpath = ":".join([str(jar), *map(str, JUNIT_JARS)])
    run = subprocess.run(
        [
            "java",
            f"-Dgolden.dir={GOLDEN}",
            "-cp",
            classpath,
            "org.junit.runner.JUnitCore",
            *JUNIT_CLASSES,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert "OK (" in run.stdout

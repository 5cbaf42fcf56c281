"""The iOS demo's Swift sources: TinySAMKit's XCTest suite runs against the golden vectors (Swift
6 from Debian trixie in a chroot, ``scripts/swift_toolchain.sh``, which ``scripts/bootstrap.sh``
sets up), and every Swift file of ``ios_demo/`` (the app included, which needs Xcode to build)
parses with the tree-sitter Swift grammar."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_swift

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_demo"
SWIFT = ROOT / "scripts" / "swift_toolchain.sh"


@pytest.mark.slow
def test_tinysamkit_passes_its_xctest_suite():
    run = subprocess.run(
        [
            "bash",
            str(SWIFT),
            "test",
            "-c",
            "release",
            "-Xswiftc",
            "-enable-testing",
            "--package-path",
            "ios_demo/TinySAMKit",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    executed = re.findall(r"Executed (\d+) tests?, with (\d+) failures?", output)
    assert executed and int(executed[-1][0]) >= 15 and executed[-1][1] == "0", output[-3000:]


def _errors(node: tree_sitter.Node) -> list[str]:
    if node.type == "ERROR" or node.is_missing:
        return [f"line {node.start_point[0] + 1}: {node.type}"]
    return [e for child in node.children for e in _errors(child)]


def test_every_swift_file_parses():
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    files = sorted(p for p in IOS.rglob("*.swift") if ".build" not in p.parts)
    assert len(files) >= 15 and any("App" in p.parts for p in files), files
    broken = {str(f.relative_to(ROOT)): _errors(parser.parse(f.read_bytes()).root_node) for f in files}
    assert not {f: e for f, e in broken.items() if e}


def test_the_parse_check_catches_syntax_errors():
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    assert _errors(parser.parse(b"struct A { func f( { }").root_node)


def test_no_stubs_in_the_ios_sources():
    stubs = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in IOS.rglob("*.swift")
        if ".build" not in p.parts
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"TODO|FIXME|fatalError\(\"(unimplemented|not implemented)", line)
    ]
    assert not stubs


def test_the_core_ai_runner_is_guarded():
    """The Core AI runner compiles only where the framework exists (the iOS / macOS 27 SDKs; so
    Linux and older Xcodes build an empty target) and is available from iOS 27, where the app
    prefers it; Core ML stays the runner on iOS 17-26."""
    source = (IOS / "TinySAMKit/Sources/TinySAMCoreAI/CoreAISegmenter.swift").read_text().strip().splitlines()
    assert source[0] == "#if canImport(CoreAI)" and source[-1] == "#endif"
    assert "@available(iOS 27, macOS 27, *)" in "\n".join(source)
    engine = (IOS / "App/SegmentEngine.swift").read_text()
    assert "if #available(iOS 27, *), let coreAI = bundles.coreAI" in engine
    assert "CoreMLSegmenter.load" in engine

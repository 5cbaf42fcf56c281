"""Serve the web demo (web_demo/) on this machine, with a LiteRT bundle and a photo beside it.

    .venv/bin/python scripts/serve_web_demo.py --bundle DIR [--photo FILE] [--port 8000] [--host 127.0.0.1]

``/`` is web_demo/ (its npm packages under /node_modules/, LiteRT.js's wasm files among them), the
bundle's files are at ``/bundle/`` and the photo at ``/photo``. Every answer carries the
cross-origin isolation headers (COOP same-origin, COEP require-corp) that threaded WASM needs.
The bundle must be a LiteRT one (``--target tflite``) whose manifest and programs check out; the
page can still open any other bundle or photo picked from disk.

Importable: :func:`make_server` returns the server unstarted (``port=0`` picks a free port) for
tests that run it in a thread.
"""

from __future__ import annotations

import argparse
import http.server
import mimetypes
import os
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB_DEMO = ROOT / "web_demo"
WASM_DIR = WEB_DEMO / "node_modules" / "@litertjs" / "core" / "wasm"
DEFAULT_PHOTO = ROOT / "tinysam_mobile" / "assets" / "photos" / "picture1.jpg"
SETUP_HINT = "bash scripts/bootstrap.sh web"

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}


class SetupError(RuntimeError):
    """The demo cannot be served: what is missing and the command that fixes it."""


def check_setup(web_demo: Path = WEB_DEMO) -> None:
    """:class:`SetupError` unless web_demo's npm packages (LiteRT.js) are installed."""
    if not (web_demo / "node_modules" / "@litertjs" / "core" / "wasm").is_dir():
        raise SetupError(
            f"{web_demo / 'node_modules'} is missing or has no @litertjs/core: the page loads LiteRT.js "
            f"from there; install it with: {SETUP_HINT}"
        )


def check_bundle(bundle: Path) -> dict:
    """The manifest of ``bundle`` when it is a sound LiteRT bundle, else :class:`SetupError`."""
    from tinysam_mobile.bundle.manifest import read_manifest

    try:
        manifest = read_manifest(bundle)
    except (OSError, ValueError) as exc:
        raise SetupError(f"{bundle} is not a usable bundle: {exc}") from None
    if manifest["target"] != "tflite":
        raise SetupError(
            f"{bundle} is a {manifest['target']!r} bundle; the web demo runs LiteRT bundles only: "
            "convert one with python -m tinysam_mobile.convert --target tflite"
        )
    return manifest


class DemoHandler(http.server.BaseHTTPRequestHandler):
    """GET / HEAD of the demo's files, the bundle's and the photo; nothing else."""

    server: DemoServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        file = self.server.resolve(path)
        if file is None:
            self._send_error(404, f"not found: {path}")
            return
        try:
            body = file.read_bytes()
        except OSError as exc:
            self._send_error(500, f"cannot read {path}: {exc.strerror}")
            return
        content_type = CONTENT_TYPES.get(file.suffix.lower()) or (
            mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        if path == "/photo":
            self.send_header("Content-Disposition", f'inline; filename="{_header_safe(file.name)}"')
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_error(self, code: int, message: str) -> None:
        body = message.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class DemoServer(http.server.ThreadingHTTPServer):
    """Maps URL paths to web_demo/, the bundle directory and the photo."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], bundle: Path, photo: Path, verbose: bool = False) -> None:
        super().__init__(address, DemoHandler)
        self.bundle = bundle.resolve()
        self.photo = photo.resolve()
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def resolve(self, path: str) -> Path | None:
        """The file behind a URL path, or ``None`` (never a file outside the served folders)."""
        if path == "/photo":
            return self.photo
        if path.startswith("/bundle/"):
            return _inside(self.bundle, path[len("/bundle/") :])
        relative = path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        return _inside(WEB_DEMO, relative)


def _header_safe(name: str) -> str:
    """A file name as a quoted header value: printable ASCII without quotes or backslashes."""
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when it is a file inside ``folder`` (no ``..``, no absolute paths)."""
    parts = [p for p in relative.split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\0" in p for p in parts):
        return None
    candidate = folder.joinpath(*parts).resolve() if parts else folder
    if folder not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def make_server(
    bundle: str | os.PathLike[str],
    photo: str | os.PathLike[str] = DEFAULT_PHOTO,
    host: str = "127.0.0.1",
    port: int = 8000,
    verbose: bool = False,
) -> DemoServer:
    """A server for the demo (not started: call ``serve_forever``); checks the set-up, the bundle
    and the photo first (:class:`SetupError` says what is wrong)."""
    check_setup()
    bundle_dir, photo_file = Path(bundle), Path(photo)
    check_bundle(bundle_dir)
    if not photo_file.is_file():
        raise SetupError(f"photo {photo_file} does not exist")
    return DemoServer((host, port), bundle_dir, photo_file, verbose)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bundle", required=True, type=Path, help="a LiteRT bundle (convert --target tflite)"
    )
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="the photo the page opens first")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.bundle, args.photo, args.host, args.port, args.verbose)
    except SetupError as exc:
        print(f"serve_web_demo: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"serve_web_demo: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"serving the TinySAM web demo at {server.url} (bundle {server.bundle}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

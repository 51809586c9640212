"""`make venue`: serve TrustVote over HTTPS on the laptop's address on the venue's Wi-Fi.

    .venv/bin/python deploy/venue.py [--address 192.168.1.10] [--port 8443] [--install-port 8080]

1. Finds the laptop's address on the local network (or takes --address).
2. Makes, or reuses, the venue's certificate authority and a server certificate for that address, in the instance
   folder (mode 600; ballots.venue.ensure_certificates).
3. Serves the app with gunicorn (deploy/gunicorn.conf.py) over HTTPS on ADDRESS:PORT; the QR codes of the ballots
   printed from now on hold https://ADDRESS:PORT (unless TRUSTVOTE_BASE_URL says otherwise).
4. Serves, over plain HTTP on ADDRESS:INSTALL_PORT, only what a tablet needs before it trusts the authority: the
   page that tells how to install it (Android, iPadOS, in Vietnamese) and the certificate itself, both public.
   Any other address there is redirected to HTTPS: nothing of a ballot ever crosses the Wi-Fi in clear.
5. Prints the addresses, a QR of the install page for the tablets' camera, and the authority's fingerprint.

Stops with Ctrl+C (gunicorn and the install page together).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ballots import venue  # noqa: E402  (after the path: run as a script from the checkout)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve TrustVote over HTTPS at a venue.")
    parser.add_argument("--address", help="the laptop's address on the venue's network (default: found)")
    parser.add_argument("--port", type=int, default=8443, help="HTTPS port (default 8443)")
    parser.add_argument("--install-port", type=int, default=8080,
                        help="plain HTTP port of the certificate's install page (default 8080)")
    return parser.parse_args(argv)


def install_pages(env: dict[str, str]) -> dict[str, tuple[str, bytes]]:
    """The install page and the certificate, rendered once by the app itself (its template, in Vietnamese)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from app import create_app

        client = create_app().test_client()
        pages = {}
        for path, served_as in (("/venue/install", "/"), ("/venue/ca.crt", "/venue/ca.crt"),
                                ("/venue/ca.pem", "/venue/ca.pem")):
            response = client.get(path, headers={"Accept-Language": "vi"})
            assert response.status_code == 200, (path, response.status_code)
            pages[served_as] = (response.headers["Content-Type"], response.get_data())
        pages["/venue/install"] = pages["/"]
        return pages
    finally:
        os.environ.clear()
        os.environ.update(saved)


def install_server(address: str, port: int, pages: dict[str, tuple[str, bytes]], https_base: str):
    """The plain HTTP server of the install page: those pages, and a redirect to HTTPS for anything else."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in pages:
                content_type, body = pages[path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                if path.endswith((".crt", ".pem")):
                    self.send_header("Content-Disposition",
                                     f'attachment; filename="trustvote-hoi-nghi{path[-4:]}"')
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(301)
            self.send_header("Location", https_base + path)  # never the query: nothing of it is kept or sent on
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):  # noqa: N802
            # a form or a ballot sent to the plain HTTP port is refused, never read: it would have crossed in clear
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self):  # noqa: N802
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # noqa: A002
            # the request line without its query, like gunicorn's log
            line = str(args[0]).split("?")[0] if args else ""
            sys.stderr.write(f"install page: {self.address_string()} {line} {args[1] if len(args) > 1 else ''}\n")

    return ThreadingHTTPServer((address, port), Handler)


def terminal_qr(text: str) -> str:
    """A QR code drawn with half blocks, for a tablet's camera held to the laptop's screen."""
    import zxingcpp

    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=True)
    pixels = memoryview(image)
    height, width = pixels.shape[0], pixels.shape[1]
    dark = [[pixels[y, x] < 128 for x in range(width)] for y in range(height)]
    dark.append([False] * width)
    lines = []
    # drawn for a terminal's usual light text on a dark background: a light module is a block, a dark one a blank
    # (the quiet zone included, so the symbol stands out whatever surrounds it)
    for y in range(0, height, 2):
        row = []
        for x in range(width):
            top, bottom = dark[y][x], dark[y + 1][x]
            row.append(" " if top and bottom else "▄" if top else "▀" if bottom else "█")
        lines.append("  " + "".join(row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from app.settings import Instance

    address = args.address or venue.local_address()
    if not address:
        print("No local network found: connect the laptop to the venue's Wi-Fi, or give its address:\n"
              "  make venue ADDRESS=192.168.1.10", file=sys.stderr)
        return 2
    instance = Instance.from_env().instance_path
    try:
        certificates = venue.ensure_certificates(instance, address)
    except ValueError as exc:
        print(f"Not an address: {address} ({exc})", file=sys.stderr)
        return 2
    env = {**os.environ, "TRUSTVOTE_BIND": f"{address}:{args.port}",
           "TRUSTVOTE_CERTFILE": str(certificates.server_cert), "TRUSTVOTE_KEYFILE": str(certificates.server_key)}
    https_base = Instance.from_env(env).base_url
    server_base = venue.base_url_for(env["TRUSTVOTE_BIND"], https=True)
    install_url = venue.base_url_for(f"{address}:{args.install_port}", https=False) + "/"

    pages = install_pages(env)
    http = install_server(address, args.install_port, pages, server_base)
    threading.Thread(target=http.serve_forever, name="install-page", daemon=True).start()

    made = ", ".join(certificates.created) or "none: the ones in the instance folder are reused"
    print(f"""
  TrustVote at the venue: {server_base}/   (stop with Ctrl+C)
  ballots printed from now on hold {https_base} in their QR codes

  On each tablet, once: open {install_url} (or scan this QR with its camera)
  and install the venue's certificate as the page says.
{terminal_qr(install_url)}
  The certificate's fingerprint (SHA-256), as the tablet shows it:
    {certificates.ca_fingerprint}
  Certificates in {instance}: made this run: {made}
  The venue checklist of a round: {server_base}/rounds/<round>/venue (as an organizer)
""", flush=True)

    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                 "app:create_app()"], cwd=ROOT, env=env)

    def stop(signum, _frame):
        gunicorn.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        return gunicorn.wait()
    finally:
        http.shutdown()
        http.server_close()


if __name__ == "__main__":
    sys.exit(main())

"""Security headers and CSRF on every form."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

# No inline script or style anywhere: every asset is a file the app serves (a venue has no internet).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if response.mimetype == "text/html":
            # pages of a logged-in user or a ballot must never be served again from a cache
            response.headers["Cache-Control"] = "no-store"
        elif "Cache-Control" not in response.headers:
            # nor any other answer that does not say otherwise (the live turnout's JSON, the board's numbers): only
            # static files, which send_file marks for revalidation, may be kept
            response.headers["Cache-Control"] = "no-store"
        return response

"""Authentication for the API views: HTTP Basic, or session + CSRF."""
import base64

from django.contrib.auth import authenticate
from django.middleware.csrf import CsrfViewMiddleware


class AuthFailed(Exception):
    def __init__(self, message, csrf_response=None):
        super().__init__(message)
        self.csrf_response = csrf_response


def _basic_credentials(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise AuthFailed("Malformed HTTP Basic credentials.")
    return username, password


def api_user(request, allow_basic=True):
    """Return the authenticated user or raise AuthFailed.

    With an Authorization: Basic header (and allow_basic), those credentials
    decide (no CSRF). Otherwise the session user is used and Django's CSRF
    checks apply; a CSRF failure carries Django's own 403 response. The
    data-file upload passes allow_basic=False: real Mathesar's REST views take
    no HTTP Basic (its REST_FRAMEWORK settings leave BasicAuthentication out).
    """
    creds = _basic_credentials(request) if allow_basic else None
    if creds is not None:
        user = authenticate(request, username=creds[0], password=creds[1])
        if user is None or not user.is_active:
            raise AuthFailed("Invalid username or password.")
        return user
    if not request.user.is_authenticated:
        raise AuthFailed("Authentication credentials were not provided.")
    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    if rejected is not None:
        raise AuthFailed("CSRF verification failed.", csrf_response=rejected)
    return request.user

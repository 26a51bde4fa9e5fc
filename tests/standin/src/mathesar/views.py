from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mathesar import __version__
from mathesar.auth import AuthFailed, api_user
from mathesar.models import DataFile
from mathesar.userdb import sniff


def superuser_exists():
    return get_user_model().objects.filter(is_superuser=True).exists()


@login_required
def home(request):
    return render(request, "mathesar/home.html", {"version": __version__})


class MathesarLoginView(LoginView):
    template_name = "mathesar/login.html"
    extra_context = {"version": __version__}

    def get(self, request, *args, **kwargs):
        if not superuser_exists():
            return redirect("complete_installation")
        return super().get(request, *args, **kwargs)


def complete_installation(request):
    if superuser_exists():
        return redirect("login")
    return render(request, "mathesar/complete_installation.html", {"version": __version__})


def _data_file_dict(request, data_file):
    """Like real Mathesar's DataFileSerializer (the fields a CSV/TSV upload fills)."""
    dialect = sniff(data_file.file.path)
    return {"id": data_file.id, "file": request.build_absolute_uri(data_file.file.url),
            "table_imported_to": None, "user": data_file.user_id, "header": True,
            "delimiter": dialect["delimiter"], "escapechar": dialect["escapechar"],
            "quotechar": dialect["quotechar"], "created_from": "file"}


def _user_or_response(request):
    try:
        return api_user(request, allow_basic=False), None
    except AuthFailed as exc:
        return None, exc.csrf_response or JsonResponse({"detail": str(exc)}, status=403)


@csrf_exempt  # CSRF is checked in api_user() for session-authenticated calls
@require_http_methods(["GET", "POST"])
def data_files(request):
    """/api/db/v0/data_files/: POST a CSV/TSV (multipart field `file`) for tables.import; GET lists them."""
    user, refused = _user_or_response(request)
    if refused:
        return refused
    if request.method == "GET":
        found = [_data_file_dict(request, f) for f in DataFile.objects.order_by("-created_at")]
        return JsonResponse({"count": len(found), "results": found})
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"non_field_errors": ["One of ['file', 'paste', 'url'] should be specified "
                                                  "(the test double takes only 'file')."]}, status=400)
    data_file = DataFile(user=user)
    data_file.file.save(upload.name, upload, save=True)
    return JsonResponse(_data_file_dict(request, data_file), status=201)


@csrf_exempt
@require_http_methods(["GET"])
def data_file_detail(request, pk):
    _user, refused = _user_or_response(request)
    if refused:
        return refused
    data_file = DataFile.objects.filter(pk=pk).first()
    if data_file is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    return JsonResponse(_data_file_dict(request, data_file))

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mathesar import __version__
from mathesar.auth import AuthFailed, api_user
from mathesar.models import DataFile


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


@csrf_exempt  # CSRF is checked in api_user() for session-authenticated calls
@require_POST
def data_files(request):
    try:
        user = api_user(request)
    except AuthFailed as exc:
        return exc.csrf_response or JsonResponse({"detail": str(exc)}, status=403)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"file": ["No file was submitted."]}, status=400)
    data_file = DataFile(user=user)
    data_file.file.save(upload.name, upload, save=True)
    return JsonResponse({"id": data_file.id, "file": data_file.file.name}, status=201)
